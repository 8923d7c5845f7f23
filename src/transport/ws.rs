//! WebSocket client and server.
