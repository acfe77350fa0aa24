//! NATS part (BUS HELPER).
