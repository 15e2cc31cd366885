package paymentruns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func validate(t *testing.T, xml []byte) error {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is missing (Debian: apt-get install libxml2-utils)")
		}
		t.Skip("xmllint not installed (Debian package libxml2-utils): schema validation skipped")
	}
	f := filepath.Join(t.TempDir(), "pain.001.xml")
	if err := os.WriteFile(f, xml, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/pain.001.001.09.xsd", f).CombinedOutput()
	if err != nil {
		return &schemaError{string(out)}
	}
	return nil
}

type schemaError struct{ out string }

func (e *schemaError) Error() string { return e.out }

// The file validates against the SEPA schema, escapes names, and the
// validator really refuses a broken one (so a pass means something).
func TestPain001Schema(t *testing.T) {
	at := time.Date(2026, 6, 20, 9, 30, 0, 0, time.UTC)
	run := &PaymentRun{ID: "prun_01TEST", Currency: "EUR", PaymentDate: "2026-06-20", ExecutedAt: &at,
		Items: []PaymentRunItem{{BillID: "bill_1", SupplierID: "sup_1", SupplierReference: "R&D <1>"}, {BillID: "bill_2", SupplierID: "sup_2", SupplierReference: "X-2"}},
		Payments: []PaymentRunPayment{{SupplierID: "sup_1", PaymentID: "pay_1", Amount: money.MustParse("1000.5")},
			{SupplierID: "sup_2", PaymentID: "pay_2", Amount: money.MustParse("0.1")}}}
	creditors := map[string]party{"sup_1": {Name: "Müller & Söhne", IBAN: "DE02120300000000202051", BIC: "BYLADEM1001"},
		"sup_2": {Name: "Gadgets", IBAN: "FR1420041010050500013M02606"}}
	x, err := buildPain001(run, party{Name: "Acme GmbH", IBAN: "DE89370400440532013000"}, creditors)
	if err != nil {
		t.Fatal(err)
	}
	s := string(x)
	for _, want := range []string{"<CtrlSum>1000.60</CtrlSum>", "<NbOfTxs>2</NbOfTxs>", "<Ustrd>R&amp;D &lt;1&gt;</Ustrd>", "<Id>NOTPROVIDED</Id>",
		"<CreDtTm>2026-06-20T09:30:00Z</CreDtTm>", `<InstdAmt Ccy="EUR">0.10</InstdAmt>`} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %s:\n%s", want, s)
		}
	}
	if err := validate(t, x); err != nil {
		t.Fatalf("does not validate: %v\n%s", err, s)
	}
	// The schema states "only EUR" as a usage rule it does not enforce,
	// but it does enforce two decimals and the IBAN pattern.
	for _, broken := range []string{strings.Replace(s, `>0.10<`, `>0.105<`, 1), strings.Replace(s, "<IBAN>FR14", "<IBAN>fr14", 1)} {
		if err := validate(t, []byte(broken)); err == nil {
			t.Fatalf("a broken file passed the SEPA schema, so a pass proves nothing:\n%s", broken)
		}
	}
	c, err := buildCSV(run, map[string]party{"sup_1": {Name: "=HYPERLINK()", IBAN: "DE02120300000000202051"}, "sup_2": creditors["sup_2"]})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), "'=HYPERLINK()") || !strings.Contains(string(c), ",1000.50,EUR,") {
		t.Errorf("csv:\n%s", c)
	}
}
