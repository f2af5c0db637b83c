package gst

// #include <malloc.h>
import "C"

// releaseFreedMemory hands the C heap's free pages back to the system.
// A pipeline set to NULL frees its encoder's frame buffers, but glibc
// keeps them in the arena of the streaming thread that allocated them,
// and the next pipeline's new threads may be given another arena: each
// time the last viewer leaves and a new one comes, resident memory would
// grow by about one pipeline's footprint (35 MiB at 720p VP8), up to one
// per arena.
func releaseFreedMemory() { C.malloc_trim(0) }
