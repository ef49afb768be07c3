"""Constant-product automated market maker (CPMM) over 2..10 outcomes, in exact ``Decimal``.

This module is pure Python (no Django, no floats) and never mutates its inputs: pools are
passed in as a sequence of ``Decimal`` and returned as new tuples.  The caller (a service
running inside a DB transaction) persists ``pools_after`` and moves the points.

Source of the formulas
======================
Gnosis conditional-tokens market makers, ``FixedProductMarketMaker.sol``
(``calcBuyAmount`` / ``calcSellAmount``), as used by Omen.  On-chain Gnosis only has the closed
form "how many shares must I sell to receive R collateral" (``calcSellAmount``); the Omen UI
solves the inverse ("how much do I receive for s shares") numerically.  We do the same.

Model
=====
Outcome ``i`` has a pool ``b_i > 0`` of outcome shares held by the market.  The invariant is the
product ``P = Π_k b_k``.  Creating a market with liquidity ``L`` sets every ``b_i = L``.

* Price (probability) of outcome ``i``::

      price_i = (1 / b_i) / Σ_k (1 / b_k)          -- prices sum to 1, each in (0, 1)

* Fee ``f`` in basis points (``0 <= f < 10000``)::

      a' = a · (1 - f/10000)                       -- Gnosis: investmentAmountMinusFees

* Buy outcome ``i`` for ``a`` points (``calcBuyAmount``).  ``a'`` points mint ``a'`` complete
  sets, so every pool grows by ``a'``; then the market hands out outcome-``i`` shares until the
  product is back to ``P``::

      shares*   = b_i + a' - b_i · Π_{j≠i} b_j / (b_j + a')
      b_j'      = b_j + a'            (j ≠ i)
      b_i'      = b_i + a' - shares

* Sell ``s`` shares of outcome ``i`` (inverse of ``calcSellAmount``).  The shares go into the
  pool and the market merges ``r`` complete sets back into points, where ``r`` solves::

      g(r) = (b_i + s - r) · Π_{j≠i} (b_j - r) = P,      0 < r < min(b_i + s, min_{j≠i} b_j)

  ``g`` is a product of positive, decreasing, linear factors on that interval, hence strictly
  decreasing and convex, with ``g(0) > P`` and ``g → 0`` at the right end: the root exists, is
  unique and always satisfies ``r < min_{j≠i} b_j`` (a sell can never drain a pool).  We find
  it with Newton's method started from ``r = 0`` (for a convex decreasing function Newton from
  the left converges monotonically), safeguarded by a bisection bracket.  The seller receives
  ``floor(r · (1 - f/10000))`` whole points.

* Shares needed to receive exactly ``R`` points (``calcSellAmount``, closed form)::

      R_g    = R / (1 - f/10000)                   -- returnAmountPlusFees
      shares = R_g + b_i · Π_{j≠i} b_j / (b_j - R_g) - b_i      (requires R_g < min_{j≠i} b_j)

Rounding (always in the house's / pool's favour)
================================================
Every rounding decision is settled by an *exact* comparison of products (all quantities
involved are finite decimals or ratios with denominator ``10000 - f``, so the comparison can be
done without rounding); the Newton / closed-form values at ``WORKING_PRECISION`` digits are only
used as starting guesses.  Consequently the product of the pools after any trade is
**never below** the product before.

* Buy: ``shares = floor(shares*)`` to ``SHARE_QUANTUM`` (6 dp), i.e. the largest multiple of
  the quantum such that ``(b_i + a' - shares) · Π_{j≠i}(b_j + a') >= P``; then
  ``b_i' = b_i + a' - shares`` exactly.  The buyer loses < 1e-6 share of dust to the pool.
  ``fee = a - a'`` (exact, at most 4 dp) stays with the house, outside the pools.
* Sell: ``points_out = floor(r · (1 - f))`` where ``r`` is the exact root; decided exactly as
  the largest integer ``p >= 0`` with ``g(p / (1 - f)) >= P``.  The gross amount removed from
  the pools is ``gross = floor(p / (1 - f))`` to 6 dp (``gross == p`` when ``f == 0``), so
  ``p <= gross <= r`` and ``fee = gross - p >= 0``.  The seller is debited the **full** ``s``
  shares and all of them go into pool ``i``::

      b_i' = b_i + s - gross,      b_j' = b_j - gross   (j ≠ i)

  Because ``gross <= r`` and ``g`` is decreasing, the new product is ``>= P``.  The value of
  the part of ``r`` not paid out (integer flooring, < 1 point plus fee rounding dust) stays in
  the pools, i.e. favours the market; this keeps pools on the 6-dp grid and conserves
  collateral exactly: points leaving the pools = ``gross`` = ``points_out + fee``.
  Note: because of the integer floor, an immediate buy-then-sell round trip can return one
  point less than was paid when the buy's share rounding left dust in the pool.  (Dust is
  < 1e-6 share per trade; it only matters if a pool is driven down to the order of
  ``SHARE_QUANTUM``, i.e. buys thousands of times larger than the liquidity.  Seed markets
  with meaningful liquidity.)
* ``shares_for_points``: the smallest multiple of ``SHARE_QUANTUM`` whose sale yields at least
  ``R`` points (closed form rounded up, then verified exactly).

Inputs are validated and every violation raises ``AMMError`` (a ``ValueError``).  Sell share
amounts must be multiples of ``SHARE_QUANTUM`` (holdings only ever come from buys, which are
quantised).  All magnitudes (pools, amounts, shares) must be ``<= MAX_MAGNITUDE`` so that the
working precision comfortably exceeds the 6-dp share grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

__all__ = [
    "BPS_DENOMINATOR",
    "MAX_MAGNITUDE",
    "MAX_OUTCOMES",
    "MIN_OUTCOMES",
    "SHARE_QUANTUM",
    "WORKING_PRECISION",
    "AMMError",
    "BuyQuote",
    "SellQuote",
    "buy",
    "initial_pools",
    "prices",
    "product",
    "quote_buy",
    "quote_sell",
    "sell",
    "shares_for_points",
]

MIN_OUTCOMES = 2
MAX_OUTCOMES = 10
BPS_DENOMINATOR = 10_000
SHARE_QUANTUM = Decimal("0.000001")
WORKING_PRECISION = 50
MAX_MAGNITUDE = Decimal("1e30")

_SHARE_DECIMALS = 6
_SOLVER_MAX_ITERATIONS = 300
_SOLVER_RELATIVE_TOLERANCE = Decimal("1e-40")
_MAX_SHARES_GUESS = Decimal("2e30")

# Rounded arithmetic used only for approximations (Newton, closed forms, prices).
_WORK_CONTEXT = Context(
    prec=WORKING_PRECISION,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# Exact arithmetic: only +, -, *, comparisons and quantize are performed in this context.
# (Never divide here: a non-terminating quotient at MAX_PREC would exhaust memory.)
_EXACT_CONTEXT = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class AMMError(ValueError):
    """Invalid input to the market maker, or a trade that cannot be executed."""


@dataclass(frozen=True, slots=True)
class BuyQuote:
    """Result of buying ``outcome_index`` for ``amount`` points (pure; nothing is mutated)."""

    outcome_index: int
    amount: int
    net_amount: Decimal  # a' = amount - fee: the points that enter the pools
    shares: Decimal  # shares received, multiple of SHARE_QUANTUM
    average_price: Decimal  # amount / shares (fee included)
    fee: Decimal  # amount - net_amount
    payout_if_wins: int  # floor(shares): each winning share pays 1 point
    pools_before: tuple[Decimal, ...]
    pools_after: tuple[Decimal, ...]
    probabilities_before: tuple[Decimal, ...]
    probabilities_after: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class SellQuote:
    """Result of selling ``shares`` of ``outcome_index`` (pure; nothing is mutated)."""

    outcome_index: int
    shares: Decimal  # shares sold; all of them are debited from the seller
    points_out: int  # whole points paid to the seller
    gross: Decimal  # points removed from the pools = points_out + fee
    average_price: Decimal  # points_out / shares
    fee: Decimal  # gross - points_out
    pools_before: tuple[Decimal, ...]
    pools_after: tuple[Decimal, ...]
    probabilities_before: tuple[Decimal, ...]
    probabilities_after: tuple[Decimal, ...]


# --------------------------------------------------------------------------- validation


def _to_decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise AMMError(f"{what} must be a Decimal or int, got {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise AMMError(f"{what} must be finite, got {result}")
    return result


def _validate_pools(pools: Sequence[Decimal]) -> tuple[Decimal, ...]:
    if isinstance(pools, (str, bytes)) or not isinstance(pools, Sequence):
        raise AMMError("pools must be a sequence of Decimal")
    if not MIN_OUTCOMES <= len(pools) <= MAX_OUTCOMES:
        raise AMMError(
            f"number of outcomes must be between {MIN_OUTCOMES} and {MAX_OUTCOMES}, "
            f"got {len(pools)}"
        )
    result = tuple(_to_decimal(b, f"pool {k}") for k, b in enumerate(pools))
    for k, b in enumerate(result):
        if b <= 0:
            raise AMMError(f"pool {k} must be positive, got {b}")
        if b > MAX_MAGNITUDE:
            raise AMMError(f"pool {k} exceeds the supported magnitude {MAX_MAGNITUDE}")
    return result


def _validate_index(outcome_index: int, n: int) -> int:
    if isinstance(outcome_index, bool) or not isinstance(outcome_index, int):
        raise AMMError(f"outcome_index must be an int, got {type(outcome_index).__name__}")
    if not 0 <= outcome_index < n:
        raise AMMError(f"outcome_index must be in [0, {n - 1}], got {outcome_index}")
    return outcome_index


def _validate_fee(fee_bps: int) -> int:
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, int):
        raise AMMError(f"fee_bps must be an int, got {type(fee_bps).__name__}")
    if not 0 <= fee_bps < BPS_DENOMINATOR:
        raise AMMError(f"fee_bps must be in [0, {BPS_DENOMINATOR}), got {fee_bps}")
    return fee_bps


def _validate_points(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AMMError(f"{what} must be an int, got {type(value).__name__}")
    if value < 1:
        raise AMMError(f"{what} must be >= 1, got {value}")
    if value > MAX_MAGNITUDE:
        raise AMMError(f"{what} exceeds the supported magnitude {MAX_MAGNITUDE}")
    return value


def _validate_shares(shares: Decimal) -> Decimal:
    result = _to_decimal(shares, "shares")
    if result <= 0:
        raise AMMError(f"shares must be positive, got {result}")
    if result > MAX_MAGNITUDE:
        raise AMMError(f"shares exceeds the supported magnitude {MAX_MAGNITUDE}")
    if result.quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR, context=_EXACT_CONTEXT) != result:
        raise AMMError(f"shares must be a multiple of {SHARE_QUANTUM}, got {result}")
    return result


# --------------------------------------------------------------------------- primitives


def _exact_product(values: Iterable[Decimal]) -> Decimal:
    with localcontext(_EXACT_CONTEXT):
        result = Decimal(1)
        for value in values:
            result *= value
        return result


def _largest_satisfying(predicate: Callable[[int], bool], guess: int, floor: int) -> int:
    """Largest integer ``k >= floor`` with ``predicate(k)``.

    ``predicate`` must be monotone (true up to some point, false afterwards), true at
    ``floor`` and eventually false.  Gallops from ``guess`` then bisects, so a good guess
    costs two evaluations and a bad one only O(log distance).
    """
    guess = max(guess, floor)
    if predicate(guess):
        lo, step = guess, 1
        while predicate(lo + step):
            lo, step = lo + step, step * 2
        hi = lo + step
    else:
        hi, step = guess, 1
        while True:
            candidate = hi - step
            if candidate <= floor:
                lo = floor
                break
            if predicate(candidate):
                lo = candidate
                break
            hi, step = candidate, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _to_quanta(value: Decimal, rounding: str) -> int:
    """``value / SHARE_QUANTUM`` rounded to an integer in the given direction."""
    scaled = value.scaleb(_SHARE_DECIMALS, context=_EXACT_CONTEXT)
    return int(scaled.to_integral_value(rounding=rounding, context=_EXACT_CONTEXT))


def _prices(pools: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    with localcontext(_WORK_CONTEXT):
        inverses = [1 / b for b in pools]
        total = sum(inverses, Decimal(0))
        return tuple(inv / total for inv in inverses)


def initial_pools(n: int, liquidity: Decimal | int) -> tuple[Decimal, ...]:
    """Pools of a fresh market with ``n`` outcomes: every pool equals ``liquidity``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise AMMError(f"n must be an int, got {type(n).__name__}")
    if not MIN_OUTCOMES <= n <= MAX_OUTCOMES:
        raise AMMError(f"n must be between {MIN_OUTCOMES} and {MAX_OUTCOMES}, got {n}")
    value = _to_decimal(liquidity, "liquidity")
    if value <= 0:
        raise AMMError(f"liquidity must be positive, got {value}")
    if value > MAX_MAGNITUDE:
        raise AMMError(f"liquidity exceeds the supported magnitude {MAX_MAGNITUDE}")
    return (value,) * n


def prices(pools: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """Outcome probabilities ``(1/b_i) / Σ_k (1/b_k)``, at ``WORKING_PRECISION`` digits."""
    return _prices(_validate_pools(pools))


def product(pools: Sequence[Decimal]) -> Decimal:
    """The invariant ``Π_k b_k``, computed exactly (no rounding)."""
    return _exact_product(_validate_pools(pools))


# --------------------------------------------------------------------------- buy


def quote_buy(
    pools: Sequence[Decimal], outcome_index: int, amount: int, fee_bps: int = 0
) -> BuyQuote:
    """Quote buying outcome ``outcome_index`` for ``amount`` whole points (Gnosis calcBuyAmount).

    ``shares`` is rounded down to ``SHARE_QUANTUM``; see the module docstring.
    """
    before = _validate_pools(pools)
    i = _validate_index(outcome_index, len(before))
    a = _validate_points(amount, "amount")
    f = _validate_fee(fee_bps)

    with localcontext(_EXACT_CONTEXT):
        net = (Decimal(a) * (BPS_DENOMINATOR - f)).scaleb(-4)  # a' = a(1 - f/10000), exact
        fee = Decimal(a) - net
        grown = tuple(b + net for b in before)
        target = _exact_product(before)
        others = _exact_product(grown[k] for k in range(len(before)) if k != i)

    with localcontext(_WORK_CONTEXT):
        remaining = before[i]
        for k, b in enumerate(before):
            if k != i:
                remaining = remaining * b / grown[k]
        approx = grown[i] - remaining

    def keeps_invariant(quanta: int) -> bool:
        with localcontext(_EXACT_CONTEXT):
            new_bi = grown[i] - SHARE_QUANTUM * quanta
            return new_bi > 0 and new_bi * others >= target

    # Largest multiple of the quantum that keeps the product >= target (= floor(shares*)).
    guess = _to_quanta(approx, ROUND_FLOOR)
    quanta = _largest_satisfying(keeps_invariant, guess, 0)
    if quanta <= 0:
        raise AMMError("amount too small to buy any shares")
    with localcontext(_EXACT_CONTEXT):
        shares = SHARE_QUANTUM * quanta
        after = tuple(grown[i] - shares if k == i else g for k, g in enumerate(grown))

    with localcontext(_WORK_CONTEXT):
        average_price = Decimal(a) / shares

    return BuyQuote(
        outcome_index=i,
        amount=a,
        net_amount=net,
        shares=shares,
        average_price=average_price,
        fee=fee,
        payout_if_wins=int(shares.to_integral_value(rounding=ROUND_FLOOR, context=_EXACT_CONTEXT)),
        pools_before=before,
        pools_after=after,
        probabilities_before=_prices(before),
        probabilities_after=_prices(after),
    )


def buy(pools: Sequence[Decimal], outcome_index: int, amount: int, fee_bps: int = 0) -> BuyQuote:
    """Execute a buy: exactly the same computation as :func:`quote_buy`.

    The module is stateless, so "executing" means the caller persists ``pools_after``,
    credits ``shares`` and debits ``amount`` (``fee`` goes to the house).
    """
    return quote_buy(pools, outcome_index, amount, fee_bps)


# --------------------------------------------------------------------------- sell


def _sell_keeps_invariant(
    balances: tuple[Decimal, ...], rhs: Decimal, denominator: int, points: int
) -> bool:
    """Exactly decide ``g(points / (1 - f)) >= P``.

    ``balances`` are the pools with the sold shares already added to pool ``i``;
    ``denominator = 10000 - f``; ``rhs = P · denominator**n``.  Multiplying every factor
    ``(c_k - points·10000/denominator)`` by ``denominator`` keeps everything a finite decimal.
    """
    with localcontext(_EXACT_CONTEXT):
        removed = Decimal(points * BPS_DENOMINATOR)
        lhs = Decimal(1)
        for c in balances:
            factor = c * denominator - removed
            if factor <= 0:
                return False
            lhs *= factor
        return lhs >= rhs


def _solve_sell_root(balances: tuple[Decimal, ...], target: Decimal) -> Decimal:
    """Approximate the root ``r`` of ``Π_k (c_k - r) = target`` on ``(0, min c_k)``.

    Newton from ``r = 0`` with a bisection safeguard; accuracy ~``1e-40`` relative.  The
    result is only a starting guess: callers settle every rounding decision exactly.
    """
    with localcontext(_WORK_CONTEXT):
        goal = +target
        lo = Decimal(0)
        hi = min(balances)
        tolerance = max(hi, Decimal(1)) * _SOLVER_RELATIVE_TOLERANCE
        r = lo
        for _ in range(_SOLVER_MAX_ITERATIONS):
            g = Decimal(1)
            inverse_sum = Decimal(0)
            for c in balances:
                term = c - r
                g *= term
                inverse_sum += 1 / term
            diff = g - goal
            if diff == 0:
                return r
            if diff > 0:
                lo = r
            else:
                hi = r
            nxt = r + diff / (g * inverse_sum)  # Newton: r - (g - P) / g', g' = -g·Σ 1/(c-r)
            if not lo < nxt < hi:
                nxt = (lo + hi) / 2
            if abs(nxt - r) <= tolerance:
                return nxt
            r = nxt
        return lo  # not reached in practice; still a valid (conservative) guess


def quote_sell(
    pools: Sequence[Decimal], outcome_index: int, shares: Decimal, fee_bps: int = 0
) -> SellQuote:
    """Quote selling ``shares`` of outcome ``outcome_index``.

    ``points_out = floor(r · (1 - f))``; ``gross = floor(points_out / (1 - f))`` to 6 dp is
    removed from every pool and all ``shares`` are added to pool ``i`` (module docstring).
    """
    before = _validate_pools(pools)
    n = len(before)
    i = _validate_index(outcome_index, n)
    s = _validate_shares(shares)
    f = _validate_fee(fee_bps)
    denominator = BPS_DENOMINATOR - f

    with localcontext(_EXACT_CONTEXT):
        balances = tuple(b + s if k == i else b for k, b in enumerate(before))
        target = _exact_product(before)
        rhs = target * Decimal(denominator**n)

    root = _solve_sell_root(balances, target)
    with localcontext(_WORK_CONTEXT):
        guess = root * denominator / BPS_DENOMINATOR
        points = max(int(guess.to_integral_value(rounding=ROUND_FLOOR)), 0)

    # Largest integer payout whose gross keeps the product >= target (= floor(r·(1-f))).
    # points == 0 always qualifies (the pools only gained shares).
    points = _largest_satisfying(
        lambda p: _sell_keeps_invariant(balances, rhs, denominator, p), points, 0
    )

    with localcontext(_EXACT_CONTEXT):
        # gross = floor(points · 10000 / (10000 - f)) to 6 dp, by integer division.
        gross_quanta = points * BPS_DENOMINATOR * 10**_SHARE_DECIMALS // denominator
        gross = SHARE_QUANTUM * gross_quanta
        after = tuple(c - gross for c in balances)
        fee = gross - points
        # Defensive: guaranteed by construction (gross <= r < min_{j != i} b_j).
        if any(b <= 0 for b in after):
            raise AMMError("sell would exhaust a pool")
        if _exact_product(after) < target:
            raise AMMError("internal error: sell would decrease the pool product")

    with localcontext(_WORK_CONTEXT):
        average_price = Decimal(points) / s

    return SellQuote(
        outcome_index=i,
        shares=s,
        points_out=points,
        gross=gross,
        average_price=average_price,
        fee=fee,
        pools_before=before,
        pools_after=after,
        probabilities_before=_prices(before),
        probabilities_after=_prices(after),
    )


def sell(
    pools: Sequence[Decimal], outcome_index: int, shares: Decimal, fee_bps: int = 0
) -> SellQuote:
    """Execute a sell: exactly the same computation as :func:`quote_sell`.

    The caller persists ``pools_after``, debits ``shares`` and credits ``points_out``
    (``fee`` goes to the house).
    """
    return quote_sell(pools, outcome_index, shares, fee_bps)


def shares_for_points(
    pools: Sequence[Decimal], outcome_index: int, points: int, fee_bps: int = 0
) -> Decimal:
    """Fewest shares (multiple of ``SHARE_QUANTUM``) whose sale pays at least ``points``.

    Gnosis ``calcSellAmount`` closed form, rounded up and verified exactly, so that
    ``quote_sell(pools, i, result, fee_bps).points_out >= points`` and selling one quantum
    less pays fewer than ``points``.  Raises ``AMMError`` if ``points / (1 - f)`` is not
    strictly below every other pool (no amount of shares can pay that much).
    """
    before = _validate_pools(pools)
    n = len(before)
    i = _validate_index(outcome_index, n)
    p = _validate_points(points, "points")
    f = _validate_fee(fee_bps)
    denominator = BPS_DENOMINATOR - f

    with localcontext(_EXACT_CONTEXT):
        for k, b in enumerate(before):
            if k != i and p * BPS_DENOMINATOR >= b * denominator:
                raise AMMError(
                    f"cannot receive {p} points: gross would reach pool {k} ({b}); "
                    "the market does not have that much liquidity"
                )
        rhs = _exact_product(before) * Decimal(denominator**n)

    with localcontext(_WORK_CONTEXT):
        # b_j - R_g = (b_j·(10000 - f) - 10000·R) / (10000 - f): numerator computed exactly.
        gross = Decimal(p * BPS_DENOMINATOR) / denominator
        ending = before[i]
        for k, b in enumerate(before):
            if k != i:
                shrunk = _EXACT_CONTEXT.subtract(
                    _EXACT_CONTEXT.multiply(b, Decimal(denominator)),
                    Decimal(p * BPS_DENOMINATOR),
                )
                ending = ending * b * denominator / shrunk
        approx = gross + ending - before[i]
    if approx > _MAX_SHARES_GUESS:
        raise AMMError(f"required shares exceed the supported magnitude {MAX_MAGNITUDE}")

    def pays_too_little(quanta: int) -> bool:
        with localcontext(_EXACT_CONTEXT):
            q = SHARE_QUANTUM * quanta
            balances = tuple(b + q if k == i else b for k, b in enumerate(before))
        return not _sell_keeps_invariant(balances, rhs, denominator, p)

    # Selling 0 shares pays nothing, so the predicate holds at 0; the answer is one quantum
    # more than the largest share count that still pays too little.
    guess = _to_quanta(approx, ROUND_CEILING) - 1
    quanta = _largest_satisfying(pays_too_little, guess, 0) + 1
    with localcontext(_EXACT_CONTEXT):
        result = SHARE_QUANTUM * quanta
    if result > MAX_MAGNITUDE:
        raise AMMError(f"required shares exceed the supported magnitude {MAX_MAGNITUDE}")
    return result
