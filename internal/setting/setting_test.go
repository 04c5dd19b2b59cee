package setting

import (
	"errors"
	"testing"
	"time"
)

func TestOr(t *testing.T) {
	if got := Or(0, 8); got != 8 {
		t.Errorf("Or(0, 8) = %d, want the default", got)
	}
	if got := Or(3, 8); got != 3 {
		t.Errorf("Or(3, 8) = %d, want the value", got)
	}
	// Negative is off, for the caller to give a meaning: never the default.
	if got := Or(-1*time.Second, time.Minute); got != -time.Second {
		t.Errorf("Or(-1s, 1m) = %v, want -1s kept", got)
	}
	if got := Or("", "index.php"); got != "index.php" {
		t.Errorf("Or(\"\", …) = %q", got)
	}
}

func TestNegative(t *testing.T) {
	if err := Negative(N("a", 0), N("b", 5), N("c", time.Second)); err != nil {
		t.Errorf("no negative value: %v", err)
	}
	err := Negative(N("a", 1), N("b", -2*time.Second), N("c", -1))
	var ne *NegativeError
	if !errors.As(err, &ne) || ne.Name != "b" || ne.Value != "-2s" {
		t.Fatalf("Negative = %v, want the first negative one, b, as -2s", err)
	}
	if want := "b: -2s is negative, and this limit cannot be off (0 means the default)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
