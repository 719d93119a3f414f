//! The closed list of Google methods this adapter calls, with what each needs: its API, HTTP verb,
//! discovery path template, the one OAuth scope requested for it, its page-size maximum, and
//! whether it may be retried after an ambiguous failure.
//!
//! Everything here is taken from the discovery documents (`../shared/google/discovery/`); the
//! conformance test checks each entry against them, so a typo cannot survive.

use std::fmt;

/// One of the three Google APIs the adapter talks to. Each has its own base URL and quota bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Admin SDK Directory API (`admin.googleapis.com`).
    Directory,
    /// Enterprise License Manager API (`licensing.googleapis.com`).
    Licensing,
    /// Reseller API (`reseller.googleapis.com`).
    Reseller,
}

impl Api {
    /// Every API, for iteration.
    pub const ALL: [Api; 3] = [Api::Directory, Api::Licensing, Api::Reseller];

    /// Short lowercase label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Api::Directory => "directory",
            Api::Licensing => "licensing",
            Api::Reseller => "reseller",
        }
    }

    /// Google's production root URL (the discovery document's `rootUrl`).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Api::Directory => "https://admin.googleapis.com/",
            Api::Licensing => "https://licensing.googleapis.com/",
            Api::Reseller => "https://reseller.googleapis.com/",
        }
    }
}

/// OAuth scopes, as full URIs. The service account's client id must be allowed exactly these in
/// each reseller domain's Admin console (Security > API controls > Domain-wide delegation).
pub mod scopes {
    /// Users: insert, get, list, update, patch, delete.
    pub const DIRECTORY_USER: &str = "https://www.googleapis.com/auth/admin.directory.user";
    /// Organisational units: get, insert.
    pub const DIRECTORY_ORGUNIT: &str = "https://www.googleapis.com/auth/admin.directory.orgunit";
    /// Roles, privileges and role assignments.
    pub const DIRECTORY_ROLEMANAGEMENT: &str =
        "https://www.googleapis.com/auth/admin.directory.rolemanagement";
    /// customers.get (to learn the real customer id).
    pub const DIRECTORY_CUSTOMER_READONLY: &str =
        "https://www.googleapis.com/auth/admin.directory.customer.readonly";
    /// domains.list, read only (to check that a declared secondary domain is the admin's
    /// customer's, and verified).
    pub const DIRECTORY_DOMAIN_READONLY: &str =
        "https://www.googleapis.com/auth/admin.directory.domain.readonly";
    /// License assignments.
    pub const APPS_LICENSING: &str = "https://www.googleapis.com/auth/apps.licensing";
    /// Reseller subscriptions and customers, read only.
    pub const APPS_ORDER_READONLY: &str = "https://www.googleapis.com/auth/apps.order.readonly";

    /// Every scope the service uses: what an administrator must grant to the client id.
    pub const ALL: [&str; 7] = [
        DIRECTORY_USER,
        DIRECTORY_ORGUNIT,
        DIRECTORY_ROLEMANAGEMENT,
        DIRECTORY_CUSTOMER_READONLY,
        DIRECTORY_DOMAIN_READONLY,
        APPS_LICENSING,
        APPS_ORDER_READONLY,
    ];
}

/// What may be done again after a failure whose outcome is unknown (timeout, reset, 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySafety {
    /// A read: repeating it changes nothing.
    Read,
    /// A write that leaves the same state when repeated (PUT, PATCH of the same values).
    Idempotent,
    /// A create whose second execution is reported as "already exists" (or confirmed by a read),
    /// so repeating it can never create a duplicate.
    DuplicateDetectable,
    /// A delete: a repeat after an ambiguous failure answers 404, which then means "done".
    Delete,
    /// A write whose repetition could act twice: retried only after answers that prove it was
    /// not executed (rate limited, not yet consistent), never after a timeout or a 5xx. No method
    /// of this adapter is in this class today; it exists so that a new one must choose.
    Unsafe,
}

/// HTTP verb of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Verb {
    /// The verb as written in discovery documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

macro_rules! google_methods {
    ($( $variant:ident => $id:literal, $api:ident, $verb:ident, $path:literal, $scope:ident, $page:expr, $safety:ident; )*) => {
        /// A Google API method this adapter can call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum GoogleMethod {
            $(
                #[doc = concat!("`", $id, "`: ", stringify!($verb), " `", $path, "`")]
                $variant,
            )*
        }

        impl GoogleMethod {
            /// Every method, in declaration order.
            pub const ALL: &'static [GoogleMethod] = &[$(GoogleMethod::$variant),*];

            /// The discovery document's method id, e.g. `directory.users.insert`.
            pub fn id(self) -> &'static str {
                match self { $(GoogleMethod::$variant => $id),* }
            }

            /// Which API serves it.
            pub fn api(self) -> Api {
                match self { $(GoogleMethod::$variant => Api::$api),* }
            }

            /// Its HTTP verb.
            pub fn verb(self) -> Verb {
                match self { $(GoogleMethod::$variant => Verb::$verb),* }
            }

            /// The discovery `path` template, relative to the API's base URL.
            pub fn path_template(self) -> &'static str {
                match self { $(GoogleMethod::$variant => $path),* }
            }

            /// The single scope requested for it (least privilege that the grant list covers).
            pub fn scope(self) -> &'static str {
                match self { $(GoogleMethod::$variant => scopes::$scope),* }
            }

            /// The largest `maxResults` Google accepts (and this adapter sends) for a paged list.
            pub fn max_page_size(self) -> Option<u32> {
                match self { $(GoogleMethod::$variant => $page),* }
            }

            /// Whether and why it may be retried after an ambiguous failure.
            pub fn retry_safety(self) -> RetrySafety {
                match self { $(GoogleMethod::$variant => RetrySafety::$safety),* }
            }

            /// Position in [`GoogleMethod::ALL`] (for metric tables).
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

// Page sizes: the discovery maxima, except licensing (discovery says 1000, Google's limits page
// says 100: facts section b) where the documented 100 is used.
google_methods! {
    UsersInsert => "directory.users.insert", Directory, Post, "admin/directory/v1/users", DIRECTORY_USER, None, DuplicateDetectable;
    UsersGet => "directory.users.get", Directory, Get, "admin/directory/v1/users/{userKey}", DIRECTORY_USER, None, Read;
    UsersList => "directory.users.list", Directory, Get, "admin/directory/v1/users", DIRECTORY_USER, Some(500), Read;
    UsersUpdate => "directory.users.update", Directory, Put, "admin/directory/v1/users/{userKey}", DIRECTORY_USER, None, Idempotent;
    UsersPatch => "directory.users.patch", Directory, Patch, "admin/directory/v1/users/{userKey}", DIRECTORY_USER, None, Idempotent;
    UsersDelete => "directory.users.delete", Directory, Delete, "admin/directory/v1/users/{userKey}", DIRECTORY_USER, None, Delete;
    CustomersGet => "directory.customers.get", Directory, Get, "admin/directory/v1/customers/{customerKey}", DIRECTORY_CUSTOMER_READONLY, None, Read;
    DomainsList => "directory.domains.list", Directory, Get, "admin/directory/v1/customer/{customer}/domains", DIRECTORY_DOMAIN_READONLY, None, Read;
    OrgunitsGet => "directory.orgunits.get", Directory, Get, "admin/directory/v1/customer/{customerId}/orgunits/{+orgUnitPath}", DIRECTORY_ORGUNIT, None, Read;
    OrgunitsInsert => "directory.orgunits.insert", Directory, Post, "admin/directory/v1/customer/{customerId}/orgunits", DIRECTORY_ORGUNIT, None, DuplicateDetectable;
    RolesList => "directory.roles.list", Directory, Get, "admin/directory/v1/customer/{customer}/roles", DIRECTORY_ROLEMANAGEMENT, Some(100), Read;
    RolesInsert => "directory.roles.insert", Directory, Post, "admin/directory/v1/customer/{customer}/roles", DIRECTORY_ROLEMANAGEMENT, None, DuplicateDetectable;
    PrivilegesList => "directory.privileges.list", Directory, Get, "admin/directory/v1/customer/{customer}/roles/ALL/privileges", DIRECTORY_ROLEMANAGEMENT, None, Read;
    RoleAssignmentsList => "directory.roleAssignments.list", Directory, Get, "admin/directory/v1/customer/{customer}/roleassignments", DIRECTORY_ROLEMANAGEMENT, Some(200), Read;
    RoleAssignmentsInsert => "directory.roleAssignments.insert", Directory, Post, "admin/directory/v1/customer/{customer}/roleassignments", DIRECTORY_ROLEMANAGEMENT, None, DuplicateDetectable;
    RoleAssignmentsDelete => "directory.roleAssignments.delete", Directory, Delete, "admin/directory/v1/customer/{customer}/roleassignments/{roleAssignmentId}", DIRECTORY_ROLEMANAGEMENT, None, Delete;
    LicenseAssignmentsListForProductAndSku => "licensing.licenseAssignments.listForProductAndSku", Licensing, Get, "apps/licensing/v1/product/{productId}/sku/{skuId}/users", APPS_LICENSING, Some(100), Read;
    LicenseAssignmentsListForProduct => "licensing.licenseAssignments.listForProduct", Licensing, Get, "apps/licensing/v1/product/{productId}/users", APPS_LICENSING, Some(100), Read;
    LicenseAssignmentsGet => "licensing.licenseAssignments.get", Licensing, Get, "apps/licensing/v1/product/{productId}/sku/{skuId}/user/{userId}", APPS_LICENSING, None, Read;
    LicenseAssignmentsInsert => "licensing.licenseAssignments.insert", Licensing, Post, "apps/licensing/v1/product/{productId}/sku/{skuId}/user", APPS_LICENSING, None, DuplicateDetectable;
    LicenseAssignmentsDelete => "licensing.licenseAssignments.delete", Licensing, Delete, "apps/licensing/v1/product/{productId}/sku/{skuId}/user/{userId}", APPS_LICENSING, None, Delete;
    ResellerSubscriptionsList => "reseller.subscriptions.list", Reseller, Get, "apps/reseller/v1/subscriptions", APPS_ORDER_READONLY, Some(100), Read;
    ResellerCustomersGet => "reseller.customers.get", Reseller, Get, "apps/reseller/v1/customers/{customerId}", APPS_ORDER_READONLY, None, Read;
}

impl fmt::Display for GoogleMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
