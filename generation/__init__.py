"""The bundled song generator (installed as ``songprep.generation``): tokenizer, LeLM, diffusion
renderer, training and sampling. Trains on datasets written by ``songprep prep``."""
