package approval

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestSettingsChangesCoverEverySetting: a setting that settingsChanges
// does not list is silently not saved (UpdateSettings sees no change), so
// every field of lockbox.Settings must appear there under its JSON name.
func TestSettingsChangesCoverEverySetting(t *testing.T) {
	t.Parallel()
	old := lockbox.DefaultSettings()
	typ := reflect.TypeFor[lockbox.Settings]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		t.Run(name, func(t *testing.T) {
			updated := old
			v := reflect.ValueOf(&updated).Elem().Field(i)
			switch v.Kind() {
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Int:
				v.SetInt(v.Int() + 1)
			case reflect.Slice:
				v.Set(reflect.Append(v, reflect.ValueOf("soc@contoso.test")))
			default:
				t.Fatalf("setting %s is a %s: teach this test (and settingsChanges) to change it", name, v.Kind())
			}
			got := settingsChanges(old, updated)
			if _, ok := got[name]; !ok || len(got) != 1 {
				t.Errorf("changing %s gives changes %v; want exactly %s", f.Name, got, name)
			}
		})
	}
}
