"""The application layer under the CLI, the API and the dashboard: typed results and error classes.

The facade itself is `leadscore.app.service.LeadService`.
"""
