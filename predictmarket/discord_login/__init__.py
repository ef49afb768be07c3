"""Sign in with Discord: django-allauth's Discord provider, configured from settings.

allauth's own Discord adapter has Discord's URLs written into it; this package's
provider replaces it (same id, ``discord``) with one that reads them from
settings, so tests can point sign-in at the Discord emulator as they point the
bot there. Signing in links the web user to their Discord user id
(``StaffDiscordLink``): their Member rows and their votes are that person's.
"""
