"""Export contracts: one declaration per export of each source system."""
from . import ads, finance, helpdesk, logistics, mes, storefront
from .contract import Column, Export

SYSTEMS = {
    "storefront": storefront.EXPORTS,
    "helpdesk": helpdesk.EXPORTS,
    "mes": mes.EXPORTS,
    "ads": ads.EXPORTS,
    "finance": finance.EXPORTS,
    "logistics": logistics.EXPORTS,
}

EXPORTS: tuple[Export, ...] = tuple(e for exports in SYSTEMS.values() for e in exports)
BY_NAME: dict[str, Export] = {e.name: e for e in EXPORTS}

__all__ = ["Column", "Export", "EXPORTS", "BY_NAME", "SYSTEMS"]
