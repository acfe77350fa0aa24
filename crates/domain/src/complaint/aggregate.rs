//! DOMAIN HELPER: the real handle/apply go here.
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use super::{Complaint, ComplaintCommand, ComplaintError, ComplaintEvent, ComplaintServices};

impl Aggregate for Complaint {
    const TYPE: &'static str = "complaint";
    type Command = ComplaintCommand;
    type Event = ComplaintEvent;
    type Error = ComplaintError;
    type Services = ComplaintServices;

    async fn handle(
        &mut self,
        _command: Self::Command,
        _services: &Self::Services,
        _sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        Err(ComplaintError::NotFound)
    }

    fn apply(&mut self, _event: Self::Event) {}
}
