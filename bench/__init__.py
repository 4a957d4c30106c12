"""The benchmark: a baked service against bare FastAPI, under uvicorn and wrk. See docs/benchmarks.md."""
