package gst

// #include <malloc.h>
import "C"

// ReleaseFreedMemory hands the C heap's free pages back to the system.
// A pipeline set to NULL (Stop) frees its encoder's frame buffers, but
// glibc keeps them in the arena of the streaming thread that allocated
// them, and the next pipeline's new threads may be given another arena:
// each time the last viewer leaves and a new one comes, resident memory
// would grow by about one pipeline's footprint (35 MiB at 720p VP8), up
// to one per arena. It locks each arena in turn, so call it outside locks
// that streaming threads wait on, and not for every short-lived pipeline.
func ReleaseFreedMemory() { C.malloc_trim(0) }
