package gst

// #cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0
// #include <gst/gst.h>
// #include <gst/app/gstappsrc.h>
// #include <stdlib.h>
//
// static GstBuffer *neko_frame_new(gsize size, GstMapInfo *info) {
//   GstBuffer *b = gst_buffer_new_allocate(NULL, size, NULL);
//   if (b == NULL) return NULL;
//   if (!gst_buffer_map(b, info, GST_MAP_WRITE)) { gst_buffer_unref(b); return NULL; }
//   return b;
// }
//
// // The hold is cleared when the last buffer sharing the memory is gone.
// static void neko_hold_release(gpointer hold) { g_atomic_int_set((gint *)hold, 0); }
//
// static GstBuffer *neko_frame_wrap(gpointer data, gsize size, gint *hold) {
//   g_atomic_int_set(hold, 1);
//   return gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, data, size, 0, size, hold, neko_hold_release);
// }
//
// // The frame's memory is shared, not copied: each pipeline gets its own
// // buffer (its own timestamps) over the same pixels.
// static GstFlowReturn neko_frame_push(void *appsrc, GstBuffer *b, GstClockTime duration) {
//   GstBuffer *c = gst_buffer_copy(b);
//   GST_BUFFER_DURATION(c) = duration;
//   return gst_app_src_push_buffer(GST_APP_SRC(appsrc), c);
// }
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// Frame is one raw video frame in GStreamer memory, written from Go once
// and then pushed into any number of pipelines without copying. Its
// memory is C memory freed by Release: frames are megabytes, too big to
// be left to finalizers (the Go collector does not see C memory, so
// frames would pile up between its cycles).
type Frame struct {
	buf  *C.GstBuffer
	info C.GstMapInfo
	data []byte
}

// NewFrame allocates a frame of size bytes, open for writing through Data.
func NewFrame(size int) (*Frame, error) {
	Init()
	if size <= 0 {
		return nil, errors.New("gst: empty frame")
	}
	f := &Frame{}
	f.buf = C.neko_frame_new(C.gsize(size), &f.info)
	if f.buf == nil {
		return nil, fmt.Errorf("gst: cannot allocate a %d-byte frame", size)
	}
	f.data = unsafe.Slice((*byte)(unsafe.Pointer(f.info.data)), size)
	return f, nil
}

// Hold tells whether GStreamer still uses memory lent to it by WrapFrame.
// It lives in C memory (GStreamer's threads write it) and is freed by Free.
type Hold struct{ p *C.gint }

// NewHold makes a hold, not held.
func NewHold() *Hold {
	return &Hold{p: (*C.gint)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gint(0)))))}
}

// Held reports whether a frame over the memory is still referenced.
func (h *Hold) Held() bool { return C.g_atomic_int_get(h.p) != 0 }

// Free releases the hold; the memory must not be held.
func (h *Hold) Free() {
	if h.p != nil {
		C.free(unsafe.Pointer(h.p))
		h.p = nil
	}
}

// WrapFrame makes a sealed frame over data without copying it. data must
// be memory Go's collector does not manage (shared memory, C memory), and
// must stay mapped and unchanged until h is no longer Held: every
// pipeline it was pushed to keeps it until it is done with it.
func WrapFrame(data []byte, h *Hold) (*Frame, error) {
	Init()
	if len(data) == 0 || h == nil || h.p == nil {
		return nil, errors.New("gst: nothing to wrap")
	}
	if h.Held() {
		return nil, errors.New("gst: memory still held")
	}
	buf := C.neko_frame_wrap(C.gpointer(unsafe.Pointer(&data[0])), C.gsize(len(data)), h.p)
	if buf == nil {
		return nil, errors.New("gst: cannot wrap frame")
	}
	return &Frame{buf: buf}, nil
}

// Data is the frame's memory, writable until Seal.
func (f *Frame) Data() []byte { return f.data }

// Seal ends writing; the frame can then be pushed.
func (f *Frame) Seal() {
	if f.data == nil {
		return
	}
	C.gst_buffer_unmap(f.buf, &f.info)
	f.data = nil
}

// Read copies the sealed frame's bytes from offset into dst.
func (f *Frame) Read(offset int, dst []byte) int {
	if f.buf == nil || f.data != nil || len(dst) == 0 || offset < 0 {
		return 0
	}
	return int(C.gst_buffer_extract(f.buf, C.gsize(offset), C.gpointer(unsafe.Pointer(&dst[0])), C.gsize(len(dst))))
}

// Retain returns another reference to the sealed frame, released on its
// own (as a pipeline holding the frame would).
func (f *Frame) Retain() *Frame {
	if f.buf == nil || f.data != nil {
		return nil
	}
	return &Frame{buf: C.gst_buffer_ref(f.buf)}
}

// Release frees the frame (pipelines it was pushed to keep their own
// references until they are done with it).
func (f *Frame) Release() {
	f.Seal()
	if f.buf != nil {
		C.gst_buffer_unref(f.buf)
		f.buf = nil
	}
}

// PushFrame feeds a sealed frame to the pipeline's appsrc, lasting
// duration; the appsrc stamps it with the time it arrives (do-timestamp).
func (p *Pipeline) PushFrame(f *Frame, duration time.Duration) error {
	if p.src == nil {
		return errors.New("gst: pipeline has no appsrc")
	}
	if f.buf == nil || f.data != nil {
		return errors.New("gst: frame released or not sealed")
	}
	if p.stopped.Load() {
		return errors.New("gst: pipeline stopped")
	}
	if ret := C.neko_frame_push(p.src.Unsafe(), f.buf, C.GstClockTime(duration)); ret != C.GST_FLOW_OK {
		return fmt.Errorf("gst: push frame: flow %d", int(ret))
	}
	return nil
}

// SetSourceCaps changes the caps of the pipeline's appsrc (the frames
// pushed next are of another size).
func (p *Pipeline) SetSourceCaps(caps string) error {
	if p.src == nil {
		return errors.New("gst: pipeline has no appsrc")
	}
	c := gst.NewCapsFromString(caps)
	if c == nil {
		return fmt.Errorf("gst: bad caps %q", caps)
	}
	p.src.SetCaps(c)
	return nil
}
