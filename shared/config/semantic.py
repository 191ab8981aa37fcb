"""Customer Insights semantic types → CDM attribute name and data type.

Semantic types are CI's names (``Person.FirstName``, ``Identity.Service.Email``…). A mapped column is
renamed to the attribute name of its type, so that match conditions and merge policies can refer to
one name across sources; ``as:`` overrides it (e.g. two phone columns in one table).
"""

from __future__ import annotations

from typing import Literal

DataType = Literal["string", "int64", "double", "decimal", "boolean", "date", "dateTime", "guid"]

SEMANTIC_TYPES: dict[str, tuple[str, DataType]] = {
    "Person.FirstName": ("FirstName", "string"),
    "Person.MiddleName": ("MiddleName", "string"),
    "Person.LastName": ("LastName", "string"),
    "Person.FullName": ("FullName", "string"),
    "Person.NamePrefix": ("NamePrefix", "string"),
    "Person.NameSuffix": ("NameSuffix", "string"),
    "Person.BirthDate": ("BirthDate", "date"),
    "Person.Gender": ("Gender", "string"),
    "Person.ProfileImage": ("ProfileImage", "string"),
    "Identity.Service.Email": ("Email", "string"),
    "Identity.Service.Phone": ("Phone", "string"),
    "Identity.Service.Facebook": ("Facebook", "string"),
    "Identity.Service.Twitter": ("Twitter", "string"),
    "Identity.GovernmentID": ("GovernmentId", "string"),
    "Location.Address": ("Street", "string"),
    "Location.Address.Street": ("Street", "string"),
    "Location.City": ("City", "string"),
    "Location.County": ("County", "string"),
    "Location.State": ("State", "string"),
    "Location.Province": ("State", "string"),
    "Location.Region": ("Region", "string"),
    "Location.Country": ("Country", "string"),
    "Location.PostalCode": ("PostalCode", "string"),
    "Location.Latitude": ("Latitude", "double"),
    "Location.Longitude": ("Longitude", "double"),
    "Organization.Name": ("CompanyName", "string"),
    "Organization": ("CompanyName", "string"),
    "Customer.CustomerId": ("CustomerNumber", "string"),
    "Calendar.Date": ("Date", "dateTime"),
    "Measurement.Date.Creation": ("CreatedOn", "dateTime"),
    "Measurement.Date.Modify": ("ModifiedOn", "dateTime"),
    "Consent.DoNotEmail": ("DoNotEmail", "boolean"),
    "Consent.DoNotPhone": ("DoNotPhone", "boolean"),
    "Consent.DoNotContact": ("DoNotContact", "boolean"),
    "Product": ("ProductId", "string"),
    "Product.Name": ("ProductName", "string"),
    "Brand": ("Brand", "string"),
    "Reference.URL": ("Url", "string"),
    "Reference.Description": ("Description", "string"),
}

DATA_TYPES: tuple[str, ...] = ("string", "int64", "double", "decimal", "boolean", "date", "dateTime", "guid")
