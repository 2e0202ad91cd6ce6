package approval

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestSettingsChangesCoverEverySetting: a setting that settingsChanges
// does not list is silently not saved (UpdateSettings sees no change), so
// changing any one field of lockbox.Settings, however deep in a nested
// setting, must list exactly that setting under its JSON name.
func TestSettingsChangesCoverEverySetting(t *testing.T) {
	t.Parallel()
	old := lockbox.DefaultSettings()
	typ := reflect.TypeFor[lockbox.Settings]()
	for i := range typ.NumField() {
		name := jsonName(typ.Field(i))
		t.Run(name, func(t *testing.T) {
			updated := old
			updated.NotifyEmails = append([]string{}, old.NotifyEmails...)
			if !changeSetting(reflect.ValueOf(&updated).Elem().Field(i)) {
				t.Fatalf("setting %s is a %s: teach changeSetting to change it", name, typ.Field(i).Type)
			}
			got := settingsChanges(old, updated)
			if _, ok := got[name]; !ok || len(got) != 1 {
				t.Errorf("changing %s gives changes %v; want exactly %s", typ.Field(i).Name, got, name)
			}
			if got := settingsChanges(old, old); len(got) != 0 {
				t.Errorf("no change gives changes %v", got)
			}
		})
	}
}

// TestSettingsChangesEmptyListIsNoChange: a store may read an empty list
// back as nil; that is not a change to audit.
func TestSettingsChangesEmptyListIsNoChange(t *testing.T) {
	t.Parallel()
	a, b := lockbox.DefaultSettings(), lockbox.DefaultSettings()
	a.NotifyEmails, b.NotifyEmails = nil, []string{}
	if got := settingsChanges(a, b); len(got) != 0 {
		t.Errorf("nil to empty notify_emails gives changes %v; want none", got)
	}
}

// TestEverySettingCanBePatched: a setting without a SettingsPatch field of
// the same JSON name can be read but never changed.
func TestEverySettingCanBePatched(t *testing.T) {
	t.Parallel()
	patch := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[lockbox.SettingsPatch]()) {
		patch[jsonName(f)] = true
	}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[lockbox.Settings]()) {
		if name := jsonName(f); !patch[name] {
			t.Errorf("setting %s has no field in SettingsPatch", name)
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// changeSetting changes v (one leaf of it, for a nested setting) and
// reports whether it knew how.
func changeSetting(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int:
		v.SetInt(v.Int() + 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return false
		}
		v.Set(reflect.Append(reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()+1), v), reflect.ValueOf("soc@contoso.test")))
	case reflect.Struct:
		for i := range v.NumField() {
			if changeSetting(v.Field(i)) {
				return true
			}
		}
		return false
	default:
		return false
	}
	return true
}
