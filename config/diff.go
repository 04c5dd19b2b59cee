package config

import (
	"fmt"
	"reflect"
)

// Diff lists the keys whose values differ between a and b, as dotted paths
// in struct order: "log.level", "routes[1].timeout",
// "listeners[0].read_timeout". A list of listeners or routes that changed
// length is the one key "listeners" or "routes". A reload logs the list and
// refuses the keys it cannot apply, so that no change is taken silently.
func Diff(a, b *Config) []string {
	var keys []string
	diff(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &keys)
	return keys
}

func diff(a, b reflect.Value, path string, keys *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("mapstructure")
			if tag == "" {
				continue
			}
			diff(a.Field(i), b.Field(i), join(path, tag), keys)
		}
	case reflect.Slice:
		if a.Type().Elem().Kind() != reflect.Struct {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				*keys = append(*keys, path)
			}
			return
		}
		if a.Len() != b.Len() {
			*keys = append(*keys, path)
			return
		}
		for i := range a.Len() {
			diff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), keys)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*keys = append(*keys, path)
		}
	}
}
