"""Resources that do the work: storage, models, generators, trainer, upscaler."""
