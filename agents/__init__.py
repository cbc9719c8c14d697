"""The mail engine: queue, delivery, store, protocol servers, supervisor.

Importable and testable without the web views: nothing here imports ``webadmin``
views; configuration is read through ``agents.config``.
"""
