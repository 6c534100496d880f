//! STARTTLS fixture (in progress).
