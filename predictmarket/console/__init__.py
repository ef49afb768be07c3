"""The moderators' console: Django's admin, scoped to the guilds a person moderates on Discord.

* ``site.ConsoleAdminSite`` (the project's default admin site) lets in operators
  (superusers, as before) and people Discord says moderate a guild this bot
  serves; it asks Discord again when the answer is older than
  ``MODERATOR_CONSOLE_REFRESH_SECONDS`` and before every POST, and refuses
  with a clear page when Discord cannot tell.
* ``scoping.GuildScopedAdmin`` is the base of every ``ModelAdmin`` that a
  moderator may see: querysets, object lookups (another guild's object is a
  404), list filters, search, autocomplete, actions, exports and form
  dropdowns are limited to the person's guilds. Any other admin (auth users,
  allauth's tokens, the outbox) is made operators-only when it is registered.
* ``csv_export`` streams a list as CSV, scoped like the list.
"""
