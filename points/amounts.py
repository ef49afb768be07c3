"""The largest amount of points one setting or one movement may name.

Balances are signed BIGINTs (about 9.2·10^18). Capping every amount a person
can type (a grant, a tip, a guild's starting balance, daily amount or market
liquidity) far below that keeps a typo ("99999999999999999999") a validation
error instead of an overflow in the database; a trillion points is more than
any guild uses, and millions of maximal movements fit before any balance
could overflow. No Django imports: the settings read it too.
"""

from __future__ import annotations

MAX_AMOUNT = 10**12
