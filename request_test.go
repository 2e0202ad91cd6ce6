package lockbox_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

func TestIsReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want bool
	}{
		{"LB-7K3Q9MXA", true},
		{"lb-7k3q9mxa", true},
		{"Lb-7K3q9MxA", true},
		{"0193f4c2-8f1e-7d3a-9b2c-5e6f7a8b9c0d", false}, // an id
		{"LB-7K3Q9MX", false},
		{"LB-7K3Q9MXAB", false},
		{"LX-7K3Q9MXA", false},
		{"", false},
		{"LB-", false},
	}
	for _, tt := range tests {
		if got := lockbox.IsReference(tt.key); got != tt.want {
			t.Errorf("IsReference(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
