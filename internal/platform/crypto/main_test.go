package crypto

import (
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
