package fastlane

import (
	"context"
	"errors"
	"testing"
)

func TestReqContextHook(t *testing.T) {
	t.Run("runs when the request ends, once", func(t *testing.T) {
		rc := newReqContext()
		runs := 0
		if _, ok := rc.HookCancel(func() { runs++ }); !ok {
			t.Fatal("HookCancel refused the first hook")
		}
		rc.end(errClientGone)
		rc.end(nil)
		if runs != 1 {
			t.Errorf("the hook ran %d times, want 1", runs)
		}
		if err := context.Cause(rc); !errors.Is(err, errClientGone) {
			t.Errorf("context.Cause = %v, want errClientGone", err)
		}
	})
	t.Run("unhooked before the end", func(t *testing.T) {
		rc := newReqContext()
		runs := 0
		id, _ := rc.HookCancel(func() { runs++ })
		if !rc.UnhookCancel(id) {
			t.Error("UnhookCancel of a hook that had not run reported false")
		}
		if rc.UnhookCancel(id) {
			t.Error("a second UnhookCancel reported true")
		}
		rc.end(nil)
		if runs != 0 {
			t.Errorf("an unhooked hook ran %d times", runs)
		}
	})
	t.Run("one hook at a time", func(t *testing.T) {
		rc := newReqContext()
		first, _ := rc.HookCancel(func() {})
		if _, ok := rc.HookCancel(func() {}); ok {
			t.Error("HookCancel took a second hook while the first was set")
		}
		rc.UnhookCancel(first)
		second, ok := rc.HookCancel(func() {})
		if !ok {
			t.Fatal("HookCancel refused a hook after the first was removed")
		}
		if rc.UnhookCancel(first) {
			t.Error("UnhookCancel with the first hook's id removed the second")
		}
		if !rc.UnhookCancel(second) {
			t.Error("UnhookCancel of the second hook reported false")
		}
	})
	t.Run("after the end it runs at once", func(t *testing.T) {
		rc := newReqContext()
		rc.end(nil)
		runs := 0
		id, ok := rc.HookCancel(func() { runs++ })
		if !ok || runs != 1 {
			t.Fatalf("HookCancel on an ended request: ok %v, ran %d times; want true, 1", ok, runs)
		}
		if rc.UnhookCancel(id) {
			t.Error("UnhookCancel reported that a hook which ran had not")
		}
	})
}
