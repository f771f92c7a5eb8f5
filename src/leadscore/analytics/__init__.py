"""Analytics over the store: funnel, channels, score quality, sales feedback, trigger and webhook health.

Aggregation happens in the database (SQLAlchemy Core on SQLite and PostgreSQL); results are typed
pydantic models that render as tables and charts (tables.py) for the terminal, HTML and the dashboard.
"""

from leadscore.analytics.common import AnalyticsError, Funnel, ReportFilter
from leadscore.analytics.reports import TITLES, Report, run_report

__all__ = ["TITLES", "AnalyticsError", "Funnel", "Report", "ReportFilter", "run_report"]
