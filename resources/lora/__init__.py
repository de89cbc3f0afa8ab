"""Character LoRA training: two backends behind one `train(...)` (backend.py), the peft trainer
(trainer.py) with its dataset, checkpoints and output, and the kohya (musubi-tuner) backend."""
