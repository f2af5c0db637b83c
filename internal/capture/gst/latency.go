package gst

// #cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0
// #include <gst/gst.h>
// #include <gst/app/gstappsrc.h>
//
// // The time from the sample's timestamp, as a running time in its own
// // segment (encoders such as x264enc move timestamps by 1000 hours and
// // their segment with them), to the element's running time now.
// static GstClockTime neko_sample_age(void *element, void *sample) {
//   GstBuffer *buf = gst_sample_get_buffer((GstSample *)sample);
//   const GstSegment *seg = gst_sample_get_segment((GstSample *)sample);
//   if (buf == NULL || seg == NULL || seg->format != GST_FORMAT_TIME || !GST_BUFFER_PTS_IS_VALID(buf))
//     return GST_CLOCK_TIME_NONE;
//   guint64 ts = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
//   GstClockTime now = gst_element_get_current_running_time((GstElement *)element);
//   if (ts == GST_CLOCK_TIME_NONE || now == GST_CLOCK_TIME_NONE || now < ts)
//     return GST_CLOCK_TIME_NONE;
//   return now - ts;
// }
//
// static guint64 neko_appsrc_level(void *appsrc) {
//   return gst_app_src_get_current_level_buffers(GST_APP_SRC(appsrc));
// }
import "C"

import (
	"runtime"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// sampleAge is how long sample's buffer took from its timestamp to sink
// (0 when unknown). One cgo call and no Go objects: it runs for every
// sample on the streaming thread.
func sampleAge(sink *app.Sink, sample *gst.Sample) time.Duration {
	age := C.neko_sample_age(sink.Unsafe(), unsafe.Pointer(sample.Instance()))
	runtime.KeepAlive(sample)
	if age == C.GST_CLOCK_TIME_NONE {
		return 0
	}
	return time.Duration(age)
}

// QueuedBuffers is how many buffers wait in the pipeline's appsrc (0
// without one).
func (p *Pipeline) QueuedBuffers() int {
	if p.src == nil || p.stopped.Load() {
		return 0
	}
	return int(C.neko_appsrc_level(p.src.Unsafe()))
}
