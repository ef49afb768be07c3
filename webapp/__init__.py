"""The members' web app: trade, follow markets and see one's portfolio from the browser."""
