// Package types holds the public wire types of the neko v3 API: REST bodies,
// WebSocket event names and their payloads. Go clients and plugins import it;
// the server uses nothing else on the wire, so field names live in one place.
package types
