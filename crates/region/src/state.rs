//! The whole region as rows in tables. Adding a resource kind is one line in `tables!`.

use crate::ec2::model::*;
use crate::eks::model::{
    Addon, Cluster, FargateProfile, FargateUnit, LaunchTemplate, Nodegroup, RequestToken, Role,
    Update,
};
use crate::elb::model::{Listener, LoadBalancer, TargetGroup};
use crate::iam::model::{InstanceProfile, ManagedPolicy, OidcProvider, Session, SigningKey};
use crate::store::{Change, Record, StoreError};
use crate::table::Table;

macro_rules! tables {
    ($($field:ident : $ty:ty = $name:literal),* $(,)?) => {
        /// Every table of the region.
        #[derive(Debug, Clone)]
        pub struct State {
            $(#[doc = concat!("The `", $name, "` table.")] pub $field: Table<$ty>,)*
            /// The store revision these rows are at (the last commit applied).
            pub revision: u64,
        }

        impl Default for State {
            fn default() -> Self {
                let mut s = Self { $($field: Table::new($name),)* revision: 0 };
                s.install_indexes();
                s
            }
        }

        impl State {
            /// Serialize the rows changed by the running operation and clear the journals.
            pub fn take_changes(&mut self) -> Result<Vec<Change>, serde_json::Error> {
                let mut out = Vec::new();
                $(self.$field.take_changes(&mut out)?;)*
                Ok(out)
            }

            /// Serialize the rows changed by the running operation; the journals stay until
            /// [`State::clear_journals`] (committed) or [`State::rollback`] (refused).
            pub fn changes(&self) -> Result<Vec<Change>, serde_json::Error> {
                let mut out = Vec::new();
                $(self.$field.changes(&mut out)?;)*
                Ok(out)
            }

            /// The running operation was committed.
            pub fn clear_journals(&mut self) {
                $(self.$field.clear_journal();)*
            }

            /// Every row, serialized.
            pub fn records(&self) -> Result<Vec<Record>, serde_json::Error> {
                let mut out = Vec::new();
                $(self.$field.records(&mut out)?;)*
                Ok(out)
            }

            /// The `(table, key)` of every row.
            pub fn keys(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(out.extend(self.$field.iter().map(|(k, _)| ($name, k.clone())));)*
                out
            }

            /// Apply a change another writer committed (no journaling).
            pub fn apply(&mut self, c: &Change) -> Result<(), StoreError> {
                let res = match (c.table.as_str(), &c.value) {
                    $(($name, Some(v)) => self.$field.load_json(c.key.clone(), v),
                      ($name, None) => { self.$field.unload(&c.key); Ok(()) })*
                    (other, _) => {
                        tracing::warn!(table = other, key = %c.key, "ignoring a change of an unknown table");
                        Ok(())
                    }
                };
                res.map_err(|e| StoreError::Corrupt { table: c.table.clone(), key: c.key.clone(), message: e.to_string() })
            }

            /// Undo the running operation.
            pub fn rollback(&mut self) {
                $(self.$field.rollback();)*
            }

            /// Build the state from stored rows.
            pub fn from_records(records: Vec<Record>) -> Result<Self, StoreError> {
                let mut s = Self::default();
                for r in records {
                    let res = match r.table.as_str() {
                        $($name => s.$field.load_json(r.key.clone(), &r.value),)*
                        other => {
                            tracing::warn!(table = other, key = %r.key, "ignoring a row of an unknown table");
                            Ok(())
                        }
                    };
                    res.map_err(|e| StoreError::Corrupt { table: r.table.clone(), key: r.key.clone(), message: e.to_string() })?;
                }
                Ok(s)
            }
        }
    };
}

tables! {
    vpcs: Vpc = "vpcs",
    subnets: Subnet = "subnets",
    internet_gateways: InternetGateway = "internet_gateways",
    egress_only_gateways: EgressOnlyInternetGateway = "egress_only_gateways",
    route_tables: RouteTable = "route_tables",
    security_groups: SecurityGroup = "security_groups",
    instances: Instance = "instances",
    network_interfaces: NetworkInterface = "network_interfaces",
    clusters: Cluster = "eks_clusters",
    nodegroups: Nodegroup = "eks_nodegroups",
    addons: Addon = "eks_addons",
    fargate_profiles: FargateProfile = "eks_fargate_profiles",
    fargate_units: FargateUnit = "eks_fargate_units",
    updates: Update = "eks_updates",
    eks_request_tokens: RequestToken = "eks_request_tokens",
    roles: Role = "iam_roles",
    policies: ManagedPolicy = "iam_policies",
    oidc_providers: OidcProvider = "iam_oidc_providers",
    signing_keys: SigningKey = "eks_oidc_signing_keys",
    sessions: Session = "sts_sessions",
    instance_profiles: InstanceProfile = "iam_instance_profiles",
    launch_templates: LaunchTemplate = "ec2_launch_templates",
    client_tokens: ClientTokenRecord = "ec2_client_tokens",
    elb_load_balancers: LoadBalancer = "elb_load_balancers",
    elb_target_groups: TargetGroup = "elb_target_groups",
    elb_listeners: Listener = "elb_listeners",
}

/// Index key of the ENIs attached to an instance.
pub fn eni_instance_key(instance_id: &str) -> String {
    format!("instance:{instance_id}")
}

/// Index key of the ENIs in a subnet.
pub fn eni_subnet_key(subnet_id: &str) -> String {
    format!("subnet:{subnet_id}")
}

fn eni_keys(e: &NetworkInterface) -> Vec<String> {
    let mut keys = vec![eni_subnet_key(&e.subnet_id)];
    keys.extend(
        e.attachment
            .iter()
            .map(|a| eni_instance_key(&a.instance_id)),
    );
    keys
}

impl State {
    /// The in-memory secondary indexes (derived from rows, never stored).
    fn install_indexes(&mut self) {
        self.network_interfaces.set_index(eni_keys);
    }

    /// ENIs attached to `instance_id`, in id order, through the index.
    pub fn enis_of_instance<'a>(
        &'a self,
        instance_id: &str,
    ) -> impl Iterator<Item = &'a NetworkInterface> + use<'a> {
        let id = instance_id.to_string();
        self.enis_by_key(&eni_instance_key(instance_id))
            .filter(move |e| e.attachment.as_ref().is_some_and(|a| a.instance_id == id))
    }

    /// ENIs in `subnet_id`, in id order, through the index.
    pub fn enis_of_subnet<'a>(
        &'a self,
        subnet_id: &str,
    ) -> impl Iterator<Item = &'a NetworkInterface> + use<'a> {
        let id = subnet_id.to_string();
        self.enis_by_key(&eni_subnet_key(subnet_id))
            .filter(move |e| e.subnet_id == id)
    }

    fn enis_by_key<'a>(
        &'a self,
        key: &str,
    ) -> impl Iterator<Item = &'a NetworkInterface> + use<'a> {
        let ids: Vec<&'a str> = match self.network_interfaces.indexed(key) {
            Some(set) => set.into_iter().collect(),
            // Always installed by `install_indexes`; a full scan keeps this correct regardless.
            None => self
                .network_interfaces
                .iter()
                .map(|(k, _)| k.as_str())
                .collect(),
        };
        ids.into_iter()
            .filter_map(|id| self.network_interfaces.get(id))
    }
}
