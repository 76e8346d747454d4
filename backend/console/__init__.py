"""The staff console: server-rendered pages under ``/console/`` for health-authority staff.

Pages work without JavaScript; ``static/console.js`` adds live updates (server-sent events).
Every page calls the same services as the API (backend/services): scoping to the member's
regions, the rules and the audit log are theirs, never copied here.
"""
