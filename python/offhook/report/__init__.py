"""Call and campaign reports: statistics per campaign, agent, hour and day from the dialer's
SQLite store, exported as CSV, JSON and a self-contained HTML page with inline SVG charts."""
from offhook.report.build import Report, build_report
from offhook.report.stats import GroupStats, group_stats, load_attempts
from offhook.report.svg import Series, bar_chart

__all__ = ["GroupStats", "Report", "Series", "bar_chart", "build_report", "group_stats", "load_attempts"]
