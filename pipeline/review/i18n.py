"""The review app's words in Portuguese (pt-BR, the default) and English, and local dates."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from resources.quote.summary import decimal

LANGUAGES = ("pt-BR", "en")

TEXT: dict[str, tuple[str, str]] = {
    # key: (pt-BR, en)
    "title": ("Revisão de vídeos", "Video review"),
    "clients": ("Clientes", "Clients"),
    "characters": ("Personagens", "Characters"),
    "no_clients": ("Nenhum cliente no acervo ainda.", "No clients in the store yet."),
    "briefs_in_error": ("Briefings com erro", "Briefs in error"),
    "no_briefs_in_error": ("Nenhum briefing com erro.", "No brief in error."),
    "not_run": ("não foi executado", "was not run"),
    "running": ("Em andamento", "Running"),
    "references": ("Referências", "References"),
    "contact_sheet": ("Folha de contato", "Contact sheet"),
    "still": ("Imagem", "Still"),
    "view": ("vista", "view"),
    "seed": ("seed", "seed"),
    "approve": ("Aprovar", "Approve"),
    "reject": ("Rejeitar", "Reject"),
    "approved": ("aprovado", "approved"),
    "rejected": ("rejeitado", "rejected"),
    "unreviewed": ("não revisado", "not reviewed"),
    "not_required": ("aprovação não exigida", "approval not required"),
    "waiting_approval": (
        "Aguardando aprovação: o treino do LoRA começa quando estas referências forem aprovadas.",
        "Waiting for approval: LoRA training starts once these references are approved.",
    ),
    "waiting_cut": (
        "Aguardando aprovação do corte final antes do relatório ao cliente.",
        "Waiting for the final cut's approval before the client's report.",
    ),
    "note": ("Observação", "Note"),
    "who": ("Quem revisa", "Reviewer"),
    "shots": ("Planos", "Shots"),
    "shot": ("Plano", "Shot"),
    "prompt": ("Prompt", "Prompt"),
    "tier": ("Qualidade", "Tier"),
    "cost": ("Custo", "Cost"),
    "identity": ("Identidade", "Identity"),
    "identity_from": ("Identidade vem de", "Identity from"),
    "from_lora": ("LoRA do personagem", "the character LoRA"),
    "from_reference": ("still de referência", "the reference still"),
    "from_both": ("LoRA e still de referência", "the LoRA and the reference still"),
    "line": ("Fala", "Line"),
    "said": ("Falado como", "Said as"),
    "cer": ("Erro de caracteres (CER)", "Character error rate (CER)"),
    "voice": ("Voz (semelhança com a amostra)", "Voice (similarity to the sample)"),
    "lip_sync": ("Sincronia labial", "Lip sync"),
    "lip_synced": (
        "sim: a imagem foi gerada a partir da fala",
        "yes: the picture was generated to the line",
    ),
    "voice_over": ("não: a fala entra como locução em off", "no: the line plays as voice-over"),
    "sync_lag": ("Atraso da boca em relação à fala", "Mouth lag behind the line"),
    "frames": ("quadros", "frames"),
    "will_cost": ("custa", "costs"),
    "gpu_time": (
        "de GPU ({instance} Spot, estimativa do orçamento)",
        "of GPU ({instance} Spot, the quote's estimate)",
    ),
    "new_brief": ("Novo briefing", "New brief"),
    "new_character": (
        "(personagem novo: a página dele abre quando a execução começar)",
        "(a new character: its page opens once the run starts)",
    ),
    "edit_brief": ("Editar briefing", "Edit brief"),
    "fix_brief": ("corrigir", "fix it"),
    "no_inbox_brief": ("Nenhum briefing de {key} no inbox.", "No brief of {key} in the inbox."),
    "brief_from_store": (
        "O inbox não tem mais o briefing de {key}: este é o da versão atual ({version}), como "
        "foi lido. Salvo, ele vira um arquivo novo no inbox.",
        "The inbox no longer holds the brief of {key}: this is the current version's ({version}), "
        "as it was read. Saved, it becomes a new file in the inbox.",
    ),
    "brief_help": (
        "Cole ou carregue o YAML do briefing (veja docs/briefs.md) e verifique: o app confere "
        "o que o sensor confere. Salvo, o briefing vai para o inbox e o sensor inicia a "
        "execução em até um minuto.",
        "Paste or load the brief's YAML (see docs/briefs.md) and check it: the app checks what "
        "the sensor checks. Saved, the brief goes into the inbox and the sensor starts its run "
        "within a minute.",
    ),
    "brief_refused": ("O briefing não pode ser salvo:", "The brief cannot be saved:"),
    "brief_ok": ("Briefing válido", "Valid brief"),
    "brief_new_file": ("Será salvo como", "Will be saved as"),
    "brief_replaces": ("Substituirá", "Will replace"),
    "brief_run_references": (
        "Salvar inicia as imagens de referência (o resto espera a sua aprovação):",
        "Saving starts the reference stills (the rest waits for your approval):",
    ),
    "brief_run_chain": (
        "Salvar inicia a cadeia inteira, até o corte final:",
        "Saving starts the whole chain, up to the final cut:",
    ),
    "licence_to_confirm": (
        "Condições de licença que os dados do estúdio não resolvem: confirme antes de entregar",
        "Licence conditions the studio's facts do not settle: confirm them before delivery",
    ),
    "brief_load_file": ("Carregar um arquivo", "Load a file"),
    "check_brief": ("Verificar", "Check"),
    "save_brief": ("Salvar no inbox", "Save into the inbox"),
    "brief_saved": (
        "Briefing de {partition} salvo em {file}: o sensor inicia a execução em até um minuto.",
        "Brief of {partition} saved as {file}: the sensor starts its run within a minute.",
    ),
    "client_links": ("Links de revisão do cliente", "Client review links"),
    "link_issued": (
        "Link criado. Copie agora e envie ao cliente: ele não será mostrado de novo.",
        "Link issued. Copy it now and send it to the client: it is not shown again.",
    ),
    "link_days": ("Válido por (dias)", "Valid for (days)"),
    "issue_link": ("Criar link para o cliente", "Issue a client link"),
    "links_unsigned": (
        "Links de cliente desligados: a operação precisa definir "
        "CHARACTER_VIDEO_CLIENT_LINK_SECRET",
        "Client links are off: operations must set CHARACTER_VIDEO_CLIENT_LINK_SECRET",
    ),
    "link": ("Link", "Link"),
    "issued": ("Criado em", "Issued"),
    "expires": ("Expira em", "Expires"),
    "revoked_by": ("revogado por", "revoked by"),
    "expired": ("expirado", "expired"),
    "revoke": ("Revogar", "Revoke"),
    "revoker": ("Quem revoga", "Revoked by"),
    "link_revoked": (
        "Link revogado: ele não abre mais nada.",
        "Link revoked: it opens nothing now.",
    ),
    "prices_unavailable": (
        "Sem preços nos botões: o orçamento não pôde ser feito",
        "No prices on the buttons: the quote could not be made",
    ),
    "approve_starts": (
        "Aprovar inicia o treino do LoRA, todos os planos e o corte",
        "Approving starts the LoRA training, every shot and the cut",
    ),
    "illustrative": (
        "ilustrativo: medido no perfil tiny (modelos minúsculos na CPU), não é preço de produção",
        "illustrative: measured on the tiny profile (tiny models on the CPU), not a real price",
    ),
    "light_green": ("dentro do limite", "within the limit"),
    "light_amber": ("no limite", "at the limit"),
    "light_red": ("fora do limite", "outside the limit"),
    "light_grey": ("só medido", "measured only"),
    "help_identity": (
        "semelhança com a referência mais próxima (DINOv2, de -1 a 1; maior é melhor)",
        "likeness to the nearest reference still (DINOv2, -1 to 1; higher is better)",
    ),
    "help_cer": (
        "parcela de caracteres que a transcrição erra em relação ao texto (menor é melhor)",
        "share of characters the transcript gets wrong against the script (lower is better)",
    ),
    "help_voice": (
        "semelhança da voz com a amostra (de -1 a 1; maior é melhor)",
        "likeness of the voice to the sample (-1 to 1; higher is better)",
    ),
    "limit_min": ("mínimo do briefing", "the brief's minimum"),
    "limit_max": ("máximo do briefing", "the brief's maximum"),
    "no_limit": ("o briefing não define limite", "the brief sets no limit"),
    "waiting_for_you": ("Esperando por você", "Waiting for you"),
    "since": ("Desde", "Since"),
    "what": ("O quê", "What"),
    "nothing_waiting": ("Nada esperando por você.", "Nothing waits for you."),
    "wait_references": ("Aprovar referências", "Approve references"),
    "wait_cut": ("Aprovar o corte", "Approve the cut"),
    "wait_shot": (
        "Plano fora do personagem: aceitar ou refazer",
        "Off-model shot: accept or re-roll",
    ),
    "wait_line": (
        "Fala fora do limite: aceitar ou refazer a voz",
        "Line outside its limits: accept or re-roll the voice",
    ),
    "held_shot": (
        "Nenhuma tentativa chegou à nota mínima de identidade: o corte espera",
        "No attempt reached the minimum identity score: the cut waits",
    ),
    "held_line": (
        "A fala ficou fora dos limites (CER, voz): o corte espera",
        "The line is outside its limits (CER, voice): the cut waits",
    ),
    "accept_shot": ("Aceitar este plano no corte", "Accept this shot for the cut"),
    "accept_line": ("Aceitar esta fala no corte", "Accept this line for the cut"),
    "wait_brief": ("Briefing com erro", "Brief with errors"),
    "sync_limit": ("limite ±2 quadros", "limit ±2 frames"),
    "sync_in_sync": ("em sincronia", "in sync"),
    "sync_out_of_sync": ("fora de sincronia", "out of sync"),
    "sync_inconclusive": (
        "inconclusivo: a boca não acompanha a fala o bastante para medir",
        "inconclusive: the mouth does not follow the line enough to measure",
    ),
    "sync_not_measured": (
        "não medido: nenhum rosto encontrado na imagem",
        "not measured: no face found in the picture",
    ),
    "duration": ("Duração", "Duration"),
    "rendered_now": ("renderizado nesta versão", "rendered in this version"),
    "reused": ("reaproveitado", "reused"),
    "reroll": ("Refazer plano", "Re-roll shot"),
    "reroll_voice": ("Refazer voz (mantém a imagem)", "Re-roll voice (keeps the picture)"),
    "voice_rerolled": ("voz refeita", "voice re-rolled"),
    "new_seed": ("Nova seed (vazio: aleatória)", "New seed (empty: random)"),
    "promote": ("Aprovar rascunho: renderizar final", "Promote draft to final"),
    "final_cut": ("Corte final", "Final cut"),
    "download": ("Baixar MP4", "Download MP4"),
    "formats": ("formatos", "formats"),
    "share_title": ("Revisão do cliente", "Client review"),
    "share_intro": (
        "Assista aos vídeos e deixe comentários por plano, com o momento (em segundos).",
        "Watch the videos and leave comments per shot, with the moment (in seconds).",
    ),
    "ready": ("pronto para revisão", "ready for review"),
    "starts_at": ("começa em", "starts at"),
    "comments": ("comentários", "comments"),
    "client_comments": ("Comentários do cliente", "Client comments"),
    "at_seconds": ("Em (s)", "At (s)"),
    "comment": ("Comentário", "Comment"),
    "send_comment": ("Enviar comentário", "Send comment"),
    "package": (
        "Baixar pacote para o cliente (zip: formatos, legendas, pôsteres, resumo, somas)",
        "Download the client package (zip: formats, subtitles, posters, summary, checksums)",
    ),
    "other_formats": (
        "Os outros formatos desta versão (a aprovação vale para todos):",
        "This version's other formats (one approval covers them all):",
    ),
    "no_cut": ("Ainda não há corte final.", "No final cut yet."),
    "no_clips": ("Ainda não há planos renderizados.", "No rendered shots yet."),
    "no_references": ("Ainda não há referências.", "No references yet."),
    "lineage": ("Linhagem", "Lineage"),
    "asset": ("Etapa", "Stage"),
    "version": ("Versão", "Version"),
    "created": ("Criado em", "Created"),
    "compute": ("Computação", "Compute"),
    "total_cost": ("Custo total estimado", "Estimated total cost"),
    "versions": ("Versões", "Versions"),
    "current": ("atual", "current"),
    "earlier": ("anterior", "earlier"),
    "showing_version": ("Mostrando a versão", "Showing version"),
    "back_current": ("voltar à atual", "back to the current one"),
    "history": ("Histórico de revisões e refações", "Review and re-roll history"),
    "rerolled": ("refeito", "re-rolled"),
    "login": ("Entrar", "Sign in"),
    "token": ("Token de acesso", "Access token"),
    "bad_token": ("Token inválido.", "Invalid token."),
    "run_started": ("Execução iniciada.", "Run started."),
    "recorded": ("Registrado.", "Recorded."),
    "progress": ("Progresso", "Progress"),
    "in_flight": ("Em andamento agora", "Running now"),
    "nothing_in_flight": ("Nenhuma execução em andamento.", "No run in progress."),
    "eta": ("faltam", "left"),
    "loop_done": ("concluído", "done"),
    "compare": ("comparar", "compare"),
    "client_report": ("Relatório ao cliente", "Client report"),
    "no_report": ("Este cliente ainda não tem relatório.", "This client has no report yet."),
    "posters": ("Pôsteres das entregas", "Posters of the deliverables"),
    "compare_two": ("Comparar duas versões lado a lado", "Compare two versions side by side"),
    "play_both": ("Tocar as duas juntas", "Play both together"),
    "pick_two": ("Escolha duas versões para comparar.", "Pick two versions to compare."),
    "run_none": ("Nenhuma execução registrada.", "No run on record."),
    "run_queued": ("Na fila: a execução vai começar.", "Queued: the run is about to start."),
    "run_running": ("Em andamento", "Running"),
    "run_stopped": ("Execução parada", "Run stopped"),
    "stopped_by": ("por {who}", "by {who}"),
    "run_stopped_by_you": ("Execução parada.", "Run stopped."),
    "stop_run": ("Parar a execução", "Stop the run"),
    "stop_help": (
        "o que ela já terminou fica guardado e a próxima execução reaproveita",
        "what it finished is kept, and the next run reuses it",
    ),
    "restart_run": ("Executar de novo", "Run it again"),
    "restart_help": (
        "reaproveita tudo o que já ficou pronto; só o que faltou roda de novo",
        "reuses everything already made; only what is missing runs again",
    ),
    "run_finished": ("Execução concluída.", "Run finished."),
    "run_failed": ("A execução falhou", "The run failed"),
    "run_waiting": ("Parada, esperando por você", "Stopped, waiting for you"),
    "run_silent": (
        "sem notícias há {minutes} min (processo interrompido?)",
        "silent for {minutes} min (process stopped?)",
    ),
    "launched_by": ("Iniciada por", "Launched by"),
    "started_at": ("início", "started"),
    "reload_to_see": (
        "Recarregue a página para ver o resultado.",
        "Reload the page to see the result.",
    ),
    "language": ("English", "Português"),
    "step": ("etapa", "step"),
    "unpriced": ("sem preço", "unpriced"),
    "brief": ("Briefing", "Brief"),
}


# The reference stills' views (resources/stills/image_generator.py), as a producer says them.
VIEW_NAMES: dict[str, str] = {
    "front portrait": "retrato de frente",
    "three-quarter left": "três quartos, à esquerda",
    "three-quarter right": "três quartos, à direita",
    "profile left": "perfil esquerdo",
    "profile right": "perfil direito",
    "full body": "corpo inteiro",
    "face close-up": "close do rosto",
    "full body walking": "corpo inteiro, caminhando",
    "laughing": "rindo",
    "serious": "sério",
    "over the shoulder": "por cima do ombro",
}


def view_name(view: str, lang: str) -> str:
    """A still's view in the page's language (a view the brief names itself stays as written)."""
    return view if lang == "en" else VIEW_NAMES.get(view, view)


def text(lang: str, key: str) -> str:
    """The word `key` in `lang` (pt-BR unless 'en')."""
    pt, en = TEXT[key]
    return en if lang == "en" else pt


def local_time(value: str | None, timezone: str, lang: str) -> str:
    """An ISO timestamp in the producer's time zone, written the way `lang` writes dates."""
    if not value:
        return "-"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    local = when.astimezone(ZoneInfo(timezone))
    shown = local.strftime("%d/%m/%Y %H:%M" if lang != "en" else "%Y-%m-%d %H:%M")
    return f"{shown} ({local.tzname()})"


def money(value: float | None, lang: str) -> str:
    """US$ to four places; a cost above nothing that rounds to 0,0000 says it is under 0,0001
    (a voice re-roll priced "US$ 0,0000" read as free)."""
    if value is None:
        return text(lang, "unpriced")
    if 0 < value < 0.00005:
        return "menos de US$ 0,0001" if lang != "en" else "under US$ 0.0001"
    shown = f"{value:,.4f}"
    if lang != "en":  # 1.234,5678
        shown = shown.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"US$ {shown}"


def number(value: float, lang: str, digits: int = 3) -> str:
    """A score as a person reads it: 0,812 in Portuguese, 0.812 in English."""
    return decimal(value, lang, digits)


# What a client's link page refuses, in the client's Portuguese: (English pattern, pt-BR). The
# English line follows in parentheses, as the studio's logs and tests read it.
REFUSALS_PT: tuple[tuple[str, str], ...] = (
    (r"this link is not a review link", "este link não é um link de revisão"),
    (r"this link has been altered", "este link foi alterado"),
    (r"this link has expired", "este link expirou"),
    (r"this link was not issued here", "este link não foi emitido aqui"),
    (r"this link has been revoked", "este link foi revogado"),
    (
        r"client review links are not enabled here",
        "links de revisão para clientes estão desligados aqui",
    ),
    (r"no such shot in this link's cuts", "não há esse plano nos cortes deste link"),
    (r"a comment is 1 to 2000 characters of text", "um comentário tem de 1 a 2000 caracteres"),
    (
        r"a comment names who wrote it \(at most 100 characters\)",
        "um comentário diz quem o escreveu (no máximo 100 caracteres)",
    ),
    (r"the time (.+) s is not inside the video", r"o momento \1 s não está dentro do vídeo"),
    (r"the time (.+) is not a number of seconds", r"o momento \1 não é um número de segundos"),
)


def refusal(message: str, lang: str) -> str:
    """'recusado: este link expirou (refused: this link has expired)' for a Portuguese reader,
    'refused: ...' for an English one or a message without a translation."""
    if lang != "en":
        for pattern, pt in REFUSALS_PT:
            if re.fullmatch(pattern, message):
                return f"recusado: {re.sub(pattern, pt, message)} (refused: {message})"
    return f"refused: {message}"
