// Package logging builds the server's structured logger from the [log]
// config (level, text or JSON) and keeps its numbers readable: a ratio
// or a duration is logged to three significant digits ("8.68", "812ms"),
// not to the last bit of a float64 ("8.678512333333334").
package logging

import (
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"
)

// New returns a logger writing level and above to w in format ("text" or
// "json"); an unknown level means info.
func New(level, format string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: round}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// sigDigits is how many significant digits a logged number keeps: enough
// to compare two lines, few enough to read.
const sigDigits = 3

// round rounds float and duration attributes to sigDigits significant
// digits (floats of 10^sigDigits and more to whole numbers). Integers,
// counts and ids, are left alone.
func round(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindFloat64:
		a.Value = slog.Float64Value(roundFloat(a.Value.Float64()))
	case slog.KindDuration:
		a.Value = slog.DurationValue(roundDuration(a.Value.Duration()))
	}
	return a
}

func roundFloat(f float64) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	decimals := sigDigits - 1 - int(math.Floor(math.Log10(math.Abs(f))))
	if decimals < 0 {
		decimals = 0
	}
	// Through the decimal text, so that the float printed is the
	// rounded one (0.298, not 0.29800000000000004).
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'f', decimals, 64), 64)
	if err != nil {
		return f
	}
	return r
}

func roundDuration(d time.Duration) time.Duration {
	n := d
	if n < 0 {
		n = -n
	}
	unit := time.Duration(1)
	for n >= 1000 { // keep three digits: 812345678ns → 812ms
		n /= 10
		unit *= 10
	}
	return d.Round(unit)
}
