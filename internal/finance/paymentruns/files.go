package paymentruns

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// party is who the files name: the company (debtor) or a supplier
// (creditor), with the account to pay from or to.
type party struct {
	Name, IBAN, BIC string
}

// pain001 is the ISO 20022 customer credit transfer initiation message
// (pain.001.001.09, SEPA rules): one payment information block for the
// run, one transaction per supplier payment. Element order follows the
// schema; encoding/xml escapes the texts.
type pain001 struct {
	XMLName xml.Name `xml:"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09 Document"`
	Init    struct {
		GrpHdr struct {
			MsgID    string `xml:"MsgId"`
			CreDtTm  string `xml:"CreDtTm"`
			NbOfTxs  string `xml:"NbOfTxs"`
			CtrlSum  string `xml:"CtrlSum"`
			InitgPty struct {
				Nm string `xml:"Nm"`
			} `xml:"InitgPty"`
		} `xml:"GrpHdr"`
		PmtInf struct {
			PmtInfID    string `xml:"PmtInfId"`
			PmtMtd      string `xml:"PmtMtd"`
			NbOfTxs     string `xml:"NbOfTxs"`
			CtrlSum     string `xml:"CtrlSum"`
			PmtTpInf    svcLvl `xml:"PmtTpInf"`
			ReqdExctnDt struct {
				Dt string `xml:"Dt"`
			} `xml:"ReqdExctnDt"`
			Dbtr struct {
				Nm string `xml:"Nm"`
			} `xml:"Dbtr"`
			DbtrAcct account `xml:"DbtrAcct"`
			DbtrAgt  struct {
				FinInstnID struct {
					BICFI string `xml:"BICFI,omitempty"`
					Othr  *struct {
						ID string `xml:"Id"`
					} `xml:"Othr,omitempty"`
				} `xml:"FinInstnId"`
			} `xml:"DbtrAgt"`
			ChrgBr      string     `xml:"ChrgBr"`
			CdtTrfTxInf []transfer `xml:"CdtTrfTxInf"`
		} `xml:"PmtInf"`
	} `xml:"CstmrCdtTrfInitn"`
}

type svcLvl struct {
	SvcLvl struct {
		Cd string `xml:"Cd"`
	} `xml:"SvcLvl"`
}

type account struct {
	ID struct {
		IBAN string `xml:"IBAN"`
	} `xml:"Id"`
}

type transfer struct {
	PmtID struct {
		EndToEndID string `xml:"EndToEndId"`
	} `xml:"PmtId"`
	Amt struct {
		InstdAmt struct {
			Ccy   string `xml:"Ccy,attr"`
			Value string `xml:",chardata"`
		} `xml:"InstdAmt"`
	} `xml:"Amt"`
	CdtrAgt *struct {
		FinInstnID struct {
			BICFI string `xml:"BICFI"`
		} `xml:"FinInstnId"`
	} `xml:"CdtrAgt,omitempty"`
	Cdtr struct {
		Nm string `xml:"Nm"`
	} `xml:"Cdtr"`
	CdtrAcct account `xml:"CdtrAcct"`
	RmtInf   struct {
		Ustrd string `xml:"Ustrd"`
	} `xml:"RmtInf"`
}

// fixed2 writes an amount with exactly two decimals; a run's amounts are
// already rounded to the currency (EUR: 2), so this never rounds.
func fixed2(d money.Decimal) string { return d.StringFixed(2) }

// clip keeps a text within a schema's maximum length (in characters).
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// remittance is the unstructured remittance text of a supplier payment:
// the supplier's own bill numbers, so the supplier can match the money.
func remittance(r *PaymentRun, p PaymentRunPayment) string {
	var refs []string
	for _, it := range r.Items {
		if it.SupplierID == p.SupplierID {
			refs = append(refs, it.SupplierReference)
		}
	}
	return clip(strings.Join(refs, ", "), 140)
}

// buildPain001 renders the run's transfers. Deterministic for a run: the
// creation time is the execution time.
func buildPain001(r *PaymentRun, debtor party, creditors map[string]party) ([]byte, error) {
	var doc pain001
	var sum money.Decimal
	for _, p := range r.Payments {
		sum = sum.Add(p.Amount)
	}
	n := strconv.Itoa(len(r.Payments))
	created := r.CreatedAt
	if r.ExecutedAt != nil {
		created = *r.ExecutedAt
	}
	g := &doc.Init.GrpHdr
	g.MsgID, g.CreDtTm, g.NbOfTxs, g.CtrlSum = r.ID, created.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"), n, fixed2(sum)
	g.InitgPty.Nm = clip(debtor.Name, 140)
	pi := &doc.Init.PmtInf
	pi.PmtInfID, pi.PmtMtd, pi.NbOfTxs, pi.CtrlSum, pi.ChrgBr = r.ID, "TRF", n, fixed2(sum), "SLEV"
	pi.PmtTpInf.SvcLvl.Cd = "SEPA"
	pi.ReqdExctnDt.Dt = r.PaymentDate
	pi.Dbtr.Nm = clip(debtor.Name, 140)
	pi.DbtrAcct.ID.IBAN = debtor.IBAN
	if debtor.BIC != "" {
		pi.DbtrAgt.FinInstnID.BICFI = debtor.BIC
	} else {
		// SEPA lets the debtor's bank be left unnamed this way (IBAN-only).
		pi.DbtrAgt.FinInstnID.Othr = &struct {
			ID string `xml:"Id"`
		}{ID: "NOTPROVIDED"}
	}
	for _, p := range r.Payments {
		c := creditors[p.SupplierID]
		var t transfer
		t.PmtID.EndToEndID = p.PaymentID
		t.Amt.InstdAmt.Ccy, t.Amt.InstdAmt.Value = string(r.Currency), fixed2(p.Amount)
		if c.BIC != "" {
			t.CdtrAgt = &struct {
				FinInstnID struct {
					BICFI string `xml:"BICFI"`
				} `xml:"FinInstnId"`
			}{}
			t.CdtrAgt.FinInstnID.BICFI = c.BIC
		}
		t.Cdtr.Nm = clip(c.Name, 140)
		t.CdtrAcct.ID.IBAN = c.IBAN
		t.RmtInf.Ustrd = remittance(r, p)
		pi.CdtTrfTxInf = append(pi.CdtTrfTxInf, t)
	}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	enc := xml.NewEncoder(&out)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode pain.001 of %s: %w", r.ID, err)
	}
	out.WriteString("\n")
	return out.Bytes(), nil
}

// buildCSV renders one line per supplier payment, for banks and tools
// that take a spreadsheet rather than pain.001.
func buildCSV(r *PaymentRun, creditors map[string]party) ([]byte, error) {
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	rows := [][]string{{"supplier_id", "supplier", "iban", "bic", "amount", "currency", "reference", "payment_id"}}
	for _, p := range r.Payments {
		c := creditors[p.SupplierID]
		rows = append(rows, []string{p.SupplierID, cell(c.Name), c.IBAN, c.BIC, p.Amount.StringFixed(r.Currency.MinorUnits()), string(r.Currency),
			cell(remittance(r, p)), p.PaymentID})
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("encode CSV of %s: %w", r.ID, err)
	}
	return out.Bytes(), nil
}

// cell defuses a text that a spreadsheet would run as a formula: supplier
// names and references come from outside.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
