"""Administration of a business line: its org units, its users and its settings (managers and admins).

Above the pool: deactivating a user hands their leads back, leaves their territories, revokes their
sessions and disables their devices, so this package depends on all of those and none of them on it.
"""
