"""The HTTP API: a thin FastAPI layer over `leadscore.app.service.LeadService` (see docs/api.md).

`leadscore.api.app.create_app` builds the application; `leadscore serve` runs it under uvicorn.
"""
