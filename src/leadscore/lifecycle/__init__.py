"""Lifecycle stages by replay, playbooks (next best action), the sales queue, and triggers."""
