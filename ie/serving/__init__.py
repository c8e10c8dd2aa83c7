"""The Predictor behind HTTP: a FastAPI app (``app``), the micro-batcher that lets concurrent requests
share encoder batches (``batcher``); ``python -m ie.serve`` runs it under uvicorn."""
