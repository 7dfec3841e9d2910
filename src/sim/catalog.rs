//! The fixed catalog of the data contract: products with price ranges, stores, customers, reasons.

/// A product and the range its sale price is drawn from, in cents (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub id: &'static str,
    pub category: &'static str,
    pub min_cents: u64,
    pub max_cents: u64,
}

/// A store of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store {
    pub id: &'static str,
    pub name: &'static str,
    pub city: &'static str,
}

/// Products, in the order of `data-contract.md` (ranges in whole units); a Postgres
/// `dim_products` table joins on `id`.
pub const PRODUCTS: [Product; 6] = [
    product("LAPTOP-001", "Electronics", 699, 1500),
    product("PHONE-001", "Electronics", 299, 1299),
    product("MONITOR-001", "Electronics", 149, 899),
    product("HEADPHONES-001", "Accessories", 29, 399),
    product("KEYBOARD-001", "Accessories", 25, 199),
    product("MOUSE-001", "Accessories", 20, 129),
];

pub const STORES: [Store; 3] = [
    Store { id: "STORE-001", name: "Downtown Mall", city: "Riyadh" },
    Store { id: "STORE-002", name: "Westside Plaza", city: "Jeddah" },
    Store { id: "STORE-003", name: "Tech Hub", city: "Dammam" },
];

/// Customers are `CUST-0001` ..= `CUST-1000`.
pub const CUSTOMERS: u32 = 1000;

pub const REFUND_REASONS: [&str; 5] =
    ["defective", "wrong_item", "not_as_described", "changed_mind", "damaged_shipping"];

/// A product whose price range, in whole currency units as the contract lists it, is kept in cents.
const fn product(id: &'static str, category: &'static str, min: u64, max: u64) -> Product {
    Product { id, category, min_cents: min * 100, max_cents: max * 100 }
}

/// The catalog's ids of the stores `asked` (empty: all), in the catalog's order; an unknown id
/// is an error that lists the known ones.
pub fn store_ids(asked: &[String]) -> Result<Vec<&'static str>, String> {
    if let Some(unknown) = asked.iter().find(|a| !STORES.iter().any(|s| s.id == a.as_str())) {
        let known: Vec<&str> = STORES.iter().map(|s| s.id).collect();
        return Err(format!("invalid PRODUCER_STORES {unknown:?}: expected stores from {}", known.join(", ")));
    }
    Ok(STORES.iter().map(|s| s.id).filter(|id| asked.is_empty() || asked.iter().any(|a| a == id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_ranges_lie_inside_the_old_services_bounds() {
        for p in PRODUCTS {
            assert!(p.min_cents < p.max_cents, "{}", p.id);
            assert!(p.min_cents >= 2_000 && p.max_cents <= 150_000, "{}", p.id);
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = PRODUCTS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PRODUCTS.len());
    }
}
