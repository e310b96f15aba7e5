pub mod devdb;
