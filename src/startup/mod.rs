//! Starting the controller at boot under systemd (`corral startup`, like `pm2 startup`): the
//! unit file, and the sd_notify messages the controller sends to its service manager.

pub mod manager;
pub mod notify;
pub mod unit;
