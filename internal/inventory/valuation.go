package inventory

import (
	"context"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// valueIn adds qty at value to the product's stock value: the moving
// average is the running value over the running quantity; FIFO adds a
// layer consumed later in date order.
func valueIn(ctx context.Context, tx *db.Tx, companyID string, p product, moveID, date string, qty, value, unitCost money.Decimal, cs *costState) error {
	if p.fifo() {
		if err := addLayer(ctx, tx, companyID, p.ID, moveID, date, qty, value, unitCost); err != nil {
			return err
		}
	}
	cs.quantity, cs.value = cs.quantity.Add(qty), cs.value.Add(value)
	return nil
}

// valueOut takes qty out of the product's stock value and returns the
// value taken, at the currency's minor unit. Moving average: that share of
// the running value, and all of it when the last units go. FIFO: the
// oldest layers first, each in proportion, a layer taken whole giving all
// its remaining value. Units beyond the stock on record (a product that
// allows negative stock) carry no value until stock arrives. Because every
// figure taken is exactly what is posted, the value left always equals the
// inventory account.
func valueOut(ctx context.Context, tx *db.Tx, companyID string, p product, qty money.Decimal, cur money.Currency, cs *costState) (money.Decimal, error) {
	var value money.Decimal
	if p.fifo() {
		layers, err := openLayers(ctx, tx, companyID, p.ID)
		if err != nil {
			return money.Decimal{}, err
		}
		need := qty
		for _, l := range layers {
			if need.Sign() <= 0 {
				break
			}
			take, v := need, l.remainingValue
			if need.Cmp(l.remaining) >= 0 {
				take = l.remaining
			} else {
				v = share(l.remainingValue, take, l.remaining, cur)
			}
			l.remaining, l.remainingValue = l.remaining.Sub(take), l.remainingValue.Sub(v)
			if err := saveLayer(ctx, tx, l); err != nil {
				return money.Decimal{}, err
			}
			value, need = value.Add(v), need.Sub(take)
		}
	} else if cs.quantity.Sign() > 0 {
		if qty.Cmp(cs.quantity) >= 0 {
			value = cs.value
		} else {
			value = share(cs.value, qty, cs.quantity, cur)
		}
	}
	cs.quantity, cs.value = cs.quantity.Sub(qty), cs.value.Sub(value)
	return value, nil
}

// share is value × part / whole at the currency's minor unit, half-even.
func share(value, part, whole money.Decimal, cur money.Currency) money.Decimal {
	v, err := value.Mul(part).DivRound(whole, cur.MinorUnits(), money.HalfEven)
	if err != nil {
		// whole is positive wherever share is called.
		return money.Decimal{}
	}
	return v
}
