package payroll

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// The payment file of a paid run, in the two forms supplier payment runs
// produce (internal/finance/paymentruns): a CSV for any bank, and an ISO
// 20022 pain.001.001.09 SEPA credit transfer when the run is in EUR, the
// company has an IBAN and every payee has one. Both are kept together,
// sealed, in payroll_runs.payment_file.
type paymentFiles struct {
	CSV     string `json:"csv"`
	Pain001 string `json:"pain001,omitempty"`
}

// payee is one transfer of net pay.
type payee struct {
	Number, Name, IBAN, BIC, Account, Routing, PayslipID string
	Amount                                               money.Decimal
}

// cell defuses a text a spreadsheet would run as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func paymentCSV(r *PayrollRun, payees []payee) (string, error) {
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	rows := [][]string{{"employee_number", "name", "iban", "bic", "account_number", "routing_number", "amount", "currency", "reference", "payslip_id"}}
	for _, p := range payees {
		rows = append(rows, []string{cell(p.Number), cell(p.Name), p.IBAN, p.BIC, cell(p.Account), cell(p.Routing),
			p.Amount.StringFixed(r.Currency.MinorUnits()), string(r.Currency), reference(r), p.PayslipID})
	}
	if err := w.WriteAll(rows); err != nil {
		return "", fmt.Errorf("encode payment CSV of %s: %w", r.ID, err)
	}
	return out.String(), nil
}

func reference(r *PayrollRun) string { return "Salary " + r.PeriodStart[:7] }

type painAccount struct {
	ID struct {
		IBAN string `xml:"IBAN"`
	} `xml:"Id"`
}

type painTransfer struct {
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
	CdtrAcct painAccount `xml:"CdtrAcct"`
	RmtInf   struct {
		Ustrd string `xml:"Ustrd"`
	} `xml:"RmtInf"`
}

// pain001 follows the element order of the schema (as paymentruns does);
// the category purpose SALA marks the transfers as salary payments.
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
			PmtInfID string `xml:"PmtInfId"`
			PmtMtd   string `xml:"PmtMtd"`
			NbOfTxs  string `xml:"NbOfTxs"`
			CtrlSum  string `xml:"CtrlSum"`
			PmtTpInf struct {
				SvcLvl struct {
					Cd string `xml:"Cd"`
				} `xml:"SvcLvl"`
				CtgyPurp struct {
					Cd string `xml:"Cd"`
				} `xml:"CtgyPurp"`
			} `xml:"PmtTpInf"`
			ReqdExctnDt struct {
				Dt string `xml:"Dt"`
			} `xml:"ReqdExctnDt"`
			Dbtr struct {
				Nm string `xml:"Nm"`
			} `xml:"Dbtr"`
			DbtrAcct painAccount `xml:"DbtrAcct"`
			DbtrAgt  struct {
				FinInstnID struct {
					BICFI string `xml:"BICFI,omitempty"`
					Othr  *struct {
						ID string `xml:"Id"`
					} `xml:"Othr,omitempty"`
				} `xml:"FinInstnId"`
			} `xml:"DbtrAgt"`
			ChrgBr      string         `xml:"ChrgBr"`
			CdtTrfTxInf []painTransfer `xml:"CdtTrfTxInf"`
		} `xml:"PmtInf"`
	} `xml:"CstmrCdtTrfInitn"`
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// paymentPain001 renders the SEPA file, or "" when the run cannot have one
// (not EUR, no company IBAN, a payee without an IBAN).
func paymentPain001(r *PayrollRun, co companyInfo, payees []payee, at time.Time) (string, error) {
	if r.Currency != "EUR" || co.IBAN == "" || len(payees) == 0 {
		return "", nil
	}
	var sum money.Decimal
	for _, p := range payees {
		if p.IBAN == "" {
			return "", nil
		}
		sum = sum.Add(p.Amount)
	}
	var doc pain001
	n := strconv.Itoa(len(payees))
	g := &doc.Init.GrpHdr
	g.MsgID, g.CreDtTm, g.NbOfTxs, g.CtrlSum = r.ID, at.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"), n, sum.StringFixed(2)
	g.InitgPty.Nm = clip(co.Name, 140)
	pi := &doc.Init.PmtInf
	pi.PmtInfID, pi.PmtMtd, pi.NbOfTxs, pi.CtrlSum, pi.ChrgBr = r.ID, "TRF", n, sum.StringFixed(2), "SLEV"
	pi.PmtTpInf.SvcLvl.Cd, pi.PmtTpInf.CtgyPurp.Cd = "SEPA", "SALA"
	pi.ReqdExctnDt.Dt = r.PayDate
	pi.Dbtr.Nm = clip(co.Name, 140)
	pi.DbtrAcct.ID.IBAN = co.IBAN
	if co.BIC != "" {
		pi.DbtrAgt.FinInstnID.BICFI = co.BIC
	} else {
		pi.DbtrAgt.FinInstnID.Othr = &struct {
			ID string `xml:"Id"`
		}{ID: "NOTPROVIDED"}
	}
	for _, p := range payees {
		var t painTransfer
		t.PmtID.EndToEndID = p.PayslipID
		t.Amt.InstdAmt.Ccy, t.Amt.InstdAmt.Value = "EUR", p.Amount.StringFixed(2)
		if p.BIC != "" {
			t.CdtrAgt = &struct {
				FinInstnID struct {
					BICFI string `xml:"BICFI"`
				} `xml:"FinInstnId"`
			}{}
			t.CdtrAgt.FinInstnID.BICFI = p.BIC
		}
		t.Cdtr.Nm = clip(p.Name, 140)
		t.CdtrAcct.ID.IBAN = p.IBAN
		t.RmtInf.Ustrd = reference(r)
		pi.CdtTrfTxInf = append(pi.CdtTrfTxInf, t)
	}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	enc := xml.NewEncoder(&out)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("encode pain.001 of %s: %w", r.ID, err)
	}
	out.WriteString("\n")
	return out.String(), nil
}

func encodeFiles(f paymentFiles) string {
	b, _ := json.Marshal(f)
	return string(b)
}
