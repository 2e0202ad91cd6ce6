package web_test

import (
	"os"
	"testing"
)

// TestMain stops the browser the browser tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
