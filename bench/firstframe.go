package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neko-webrtc/neko/test/viewer"
)

// benchFirstFrame measures the time from signal/request to the first
// decoded frame: cold (no one watches, so the server must start its
// capture pipelines) and warm (a viewer already watches; the newcomer
// only needs a forced keyframe).
func benchFirstFrame(ctx context.Context, bin, dir string, cold, warm int) ([]row, error) {
	srv, err := startServer(ctx, bin, dir, "firstframe", dataURL(animatedPage), ours)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()

	// The observer sees every session's watching state; it never watches.
	observer, err := join(ctx, srv.URL, "observer", adminPassword)
	if err != nil {
		return nil, err
	}
	defer observer.Close()
	watch := newWatchState(observer)

	// Warm-up viewer: waits until Chromium shows the animated page, so the
	// cold runs measure an idle pipeline rather than the server's start-up
	// (page load, first GStreamer plugin load).
	if err := watchOnce(ctx, srv, watch, "warmup", func(md *viewer.Media) error {
		return waitAnimating(md, 10, 45*time.Second)
	}); err != nil {
		return nil, fmt.Errorf("warm-up: %w; server log:\n%s", err, srv.logTail(10))
	}

	var coldTimes, coldComplete []time.Duration
	var keys keyCheck
	for i := range cold {
		err := watchOnce(ctx, srv, watch, fmt.Sprintf("cold-%d", i), func(md *viewer.Media) error {
			f, err := firstFrame(md, 10*time.Second)
			if err != nil {
				return err
			}
			coldTimes = append(coldTimes, f.At.Sub(md.RequestedAt))
			coldComplete = append(coldComplete, f.Arrived.Sub(md.RequestedAt))
			keys.add(md)
			logf("cold %d: %s (complete %s, decode %s)", i+1, ms(f.At.Sub(md.RequestedAt)), ms(f.Arrived.Sub(md.RequestedAt)), ms(f.Decode))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cold run %d: %w", i+1, err)
		}
		// A short rest: the next "cold" start must not catch the server
		// still tearing down (the test above already waits for that).
		time.Sleep(200 * time.Millisecond)
	}

	// Warm: one viewer keeps watching while others join and leave.
	host, err := join(ctx, srv.URL, "watcher", userPassword)
	if err != nil {
		return nil, err
	}
	hostMedia, err := startMedia(ctx, host)
	if err != nil {
		host.Close()
		return nil, err
	}
	defer leave(host, hostMedia)
	if _, err := firstFrame(hostMedia, 10*time.Second); err != nil {
		return nil, fmt.Errorf("warm: first viewer: %w", err)
	}
	// Keep the first viewer's frame queue flowing, as a real client would.
	stopDrain := make(chan struct{})
	defer close(stopDrain)
	go func() {
		for {
			select {
			case <-hostMedia.Frames():
			case <-stopDrain:
				return
			}
		}
	}()
	time.Sleep(time.Second)

	var warmTimes, warmComplete []time.Duration
	for i := range warm {
		err := watchOnce(ctx, srv, watch, fmt.Sprintf("warm-%d", i), func(md *viewer.Media) error {
			f, err := firstFrame(md, 10*time.Second)
			if err != nil {
				return err
			}
			warmTimes = append(warmTimes, f.At.Sub(md.RequestedAt))
			warmComplete = append(warmComplete, f.Arrived.Sub(md.RequestedAt))
			keys.add(md)
			logf("warm %d: %s (complete %s, decode %s)", i+1, ms(f.At.Sub(md.RequestedAt)), ms(f.Arrived.Sub(md.RequestedAt)), ms(f.Decode))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("warm run %d: %w", i+1, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	return []row{
		ttffRow(fmt.Sprintf("1 viewer, nobody watching (n=%d)", cold), coldComplete, coldTimes),
		ttffRow(fmt.Sprintf("1 viewer joining a watched stream (n=%d)", warm), warmComplete, warmTimes),
		keys.row("1 viewer"),
	}, nil
}

// ttffRow reports the time from signal/request to the first decodable
// frame (complete keyframe: the target applies to it) and to the first
// frame the viewer decoded.
func ttffRow(who string, complete, decoded []time.Duration) row {
	cs, ds := summarize(complete), summarize(decoded)
	return row{"Time to first decodable frame, " + who + " p50 / p95 / max",
		fmt.Sprintf("%s (decoded: %s)", cs, ds), "", verdict(ttffTarget, len(complete) > 0 && cs.p95 <= ttffMax)}
}

// The time-to-first-frame target.
const (
	ttffMax    = 200 * time.Millisecond
	ttffTarget = "p95 ≤ 200 ms"
)

// keyCheck counts viewers whose first video frame was a keyframe and
// the first thing they received (nothing lost or discarded before it).
type keyCheck struct{ n, key int }

func (k *keyCheck) add(md *viewer.Media) {
	k.n++
	if fv, ok := md.FirstVideo(); ok && fv.Keyframe && fv.Clean {
		k.key++
	}
}

func (k keyCheck) row(who string) row {
	return row{"First video frame is a whole keyframe, " + who, fmt.Sprintf("%d of %d viewers", k.key, k.n), "", verdict("all", k.key == k.n)}
}

// watchOnce runs one viewer session: log in, start media, run fn, leave,
// and wait until the server reports the session not watching (so its
// share of the capture pipelines is released).
func watchOnce(ctx context.Context, srv *server, watch *watchState, name string, fn func(*viewer.Media) error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c, err := join(ctx, srv.URL, name, userPassword)
	if err != nil {
		return err
	}
	md, err := startMedia(ctx, c)
	if err != nil {
		c.Close()
		return err
	}
	fnErr := fn(md)
	leave(c, md)
	if err := watch.waitNotWatching(c.SessionID, 10*time.Second); err != nil {
		return errors.Join(fnErr, err)
	}
	return fnErr
}
