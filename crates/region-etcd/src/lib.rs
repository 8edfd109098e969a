pub use etcd_client;
