"""Audit log of sensitive actions: who did what to which record, when, with the state before and after."""
