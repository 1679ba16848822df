"""The jobs of `perfxl check`, one module each; perfxl/check.py is the engine that runs them."""
