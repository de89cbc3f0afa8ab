"""Character LoRA training: the peft flow-matching trainer, its dataset, checkpoints and output;
the kohya (musubi-tuner) backend."""
