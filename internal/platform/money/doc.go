// Package money holds exact decimal amounts, unit prices and quantities.
//
// Money never passes through float64: a float cannot hold 0.10 exactly, and
// the errors it introduces surface as ledgers that do not balance by a cent.
// [Decimal] is an exact base-10 number that also remembers the scale it was
// written with, so "12.50" read from a request is "12.50" in the response.
//
// # Rounding
//
// The rounding rule is half-even ("banker's rounding": 2.345 → 2.34,
// 2.355 → 2.36) unless the company chooses half-up (half away from zero:
// 2.345 → 2.35, −2.345 → −2.35); see [RoundingMode]. Half-even is the
// default because it does not drift upwards when many values are rounded and
// summed. Amounts are rounded to the minor unit of their ISO 4217 currency
// (JPY 0 places, EUR 2, BHD 3, CLF 4) by [RoundAmount]; unit prices and
// quantities are not rounded to the currency and keep more precision, so a
// price of 0.0125 per piece times 1000 pieces is exactly 12.50.
//
// # Storage
//
// Values are stored in SQL as 64-bit integers scaled by a fixed power of ten
// per kind of value, so comparison, ORDER BY and SUM are exact integer
// operations on both SQLite and PostgreSQL:
//
//   - amounts: scale [AmountScale] = 4, range −922,337,203,685,477.5808 to
//     922,337,203,685,477.5807 (roughly ±922 trillion); every currency's
//     minor unit (at most 4 places) fits.
//   - unit prices: scale [PriceScale] = 6, range −9,223,372,036,854.775808
//     to 9,223,372,036,854.775807 (roughly ±9.2 trillion).
//   - quantities: scale [QuantityScale] = 6, same range as prices.
//
// Converting to a scaled integer never rounds silently: a value with more
// decimal places than the scale fails with [ErrPrecision], one outside the
// range with [ErrOverflow]. Stores pass values through the column adapters
// ([Amount], [Price], [Quantity] and their Null variants) both as query
// arguments and as Scan destinations. PostgreSQL returns SUM(bigint) as
// numeric, which may exceed int64; the adapters scan it exactly. SUM over no
// rows is NULL, so non-null adapters need COALESCE(SUM(x), 0).
//
// # Encoding
//
// In JSON a Decimal is always a string ("12.50"); a JSON number is refused
// with [ErrNumberNotString] because a client's JSON library may already
// have turned it into a float. XML uses the same text form.
package money
