"""The unification config that ships with the demo (written to ``<out>/c360.yaml``)."""

DEMO_CONFIG = """\
# yaml-language-server: $schema=../schemas/c360.schema.json
# c360 unification config for the retail demo. Every key is documented in README.md ("Configuration").
version: 1

sources:
  - name: erp_customers
    data_source: ERP
    table: Customers
    landing: erp/customers
    format: csv
    csv: {delimiter: ";"}           # the ERP exports semicolon-separated UTF-8 with a BOM
    primary_key: CustomerNo
    recency: ModifiedOn
    columns:
      CustomerNo: Customer.CustomerId
      FirstName: Person.FirstName
      LastName: Person.LastName
      Street: Location.Address
      ZipCode: Location.PostalCode
      City: Location.City
      State: Location.State
      Country: Location.Country
      Phone: Identity.Service.Phone
      Email: Identity.Service.Email
      BirthDate: Person.BirthDate
      ModifiedOn: Measurement.Date.Modify

  - name: crm_contacts
    data_source: CRM
    table: Contacts
    landing: crm/contacts
    format: csv
    primary_key: contactid
    recency: modifiedon
    columns:
      firstname: Person.FirstName
      lastname: Person.LastName
      emailaddress1: Identity.Service.Email
      telephone1: Identity.Service.Phone
      address1_line1: Location.Address
      address1_city: Location.City
      address1_stateorprovince: Location.State
      address1_postalcode: Location.PostalCode
      address1_country: Location.Country
      birthdate: Person.BirthDate
      gendercode: Person.Gender
      modifiedon: Measurement.Date.Modify
      donotemail: Consent.DoNotEmail

  - name: ecom_accounts
    data_source: Ecommerce
    table: Accounts
    landing: ecom/accounts
    format: jsonl
    primary_key: account_id
    recency: updated_at
    columns:
      email: Identity.Service.Email
      first_name: Person.FirstName
      last_name: Person.LastName
      phone: Identity.Service.Phone
      street: Location.Address
      city: Location.City
      state: Location.State
      zip: Location.PostalCode
      birthday: Person.BirthDate
      updated_at: Measurement.Date.Modify
      email_opt_out: Consent.DoNotEmail   # merged by maximum, as consent flags are: an opt-out anywhere holds

  - name: pos_members
    data_source: POS
    table: LoyaltyMembers
    landing: pos/members
    format: parquet
    primary_key: MemberId
    recency: UpdatedAt
    columns:
      GivenName: Person.FirstName
      FamilyName: Person.LastName
      Mobile: Identity.Service.Phone
      Email: Identity.Service.Email
      PostCode: Location.PostalCode
      DateOfBirth: Person.BirthDate
      UpdatedAt: Measurement.Date.Modify

activities:
  - {name: erp_orders, data_source: ERP, table: SalesOrders, landing: erp/orders, format: csv,
     activity_type: SalesOrder, primary_key: OrderNo, timestamp: OrderDate, amount: TotalAmount,
     customer_key: CustomerNo, customer_source: erp_customers,
     columns: {OrderDate: {data_type: dateTime}, TotalAmount: {data_type: double}, CustomerNo: {data_type: string}}}
  - {name: erp_order_lines, data_source: ERP, table: SalesOrderLines, landing: erp/order_lines, format: csv,
     activity_type: SalesOrderLine, primary_key: [OrderNo, LineNo], order_key: OrderNo, order_source: erp_orders,
     amount: LineTotal,
     columns: {OrderNo: {data_type: string}, LineNo: {data_type: int64}, Sku: Product, Description: Product.Name,
               Brand: Brand, Qty: {data_type: int64, as: Quantity}, UnitPrice: {data_type: double},
               LineTotal: {data_type: double}}}
  - {name: pos_receipts, data_source: POS, table: Receipts, landing: pos/receipts, format: parquet,
     activity_type: SalesOrder, primary_key: ReceiptId, timestamp: Timestamp, amount: Amount,
     customer_key: MemberId, customer_source: pos_members,
     columns: {Timestamp: {data_type: dateTime}, Amount: {data_type: double}, MemberId: {data_type: string},
               StoreId: {data_type: int64}}}
  - {name: pos_receipt_lines, data_source: POS, table: ReceiptLines, landing: pos/receipt_lines, format: parquet,
     activity_type: SalesOrderLine, primary_key: [ReceiptId, LineNo], order_key: ReceiptId, order_source: pos_receipts,
     amount: Total,
     columns: {ReceiptId: {data_type: string}, LineNo: {data_type: int64}, Sku: Product, Brand: Brand,
               Quantity: {data_type: int64}, Price: {data_type: double, as: UnitPrice}, Total: {data_type: double}}}
  - {name: ecom_orders, data_source: Ecommerce, table: Orders, landing: ecom/orders, format: jsonl,
     activity_type: SalesOrder, primary_key: order_id, timestamp: placed_at, amount: total,
     customer_key: account_id, customer_source: ecom_accounts,
     columns: {placed_at: {data_type: dateTime}, total: {data_type: double}, account_id: {data_type: string}}}
  - {name: ecom_order_lines, data_source: Ecommerce, table: OrderLines, landing: ecom/order_lines, format: jsonl,
     activity_type: SalesOrderLine, primary_key: [order_id, line], order_key: order_id, order_source: ecom_orders,
     amount: amount,
     columns: {order_id: {data_type: string}, line: {data_type: int64, as: LineNo}, sku: Product,
               product_name: Product.Name, brand: Brand, qty: {data_type: int64, as: Quantity},
               unit_price: {data_type: double, as: UnitPrice}, amount: {data_type: double}}}

unification:
  # The first table is the primary table; a table only matches tables earlier in this order.
  match_order: [erp_customers, crm_contacts, ecom_accounts, pos_members]
  tables:
    erp_customers:
      deduplication:
        winner: {policy: most_recent}
        rules: &person_rules
          - name: email_and_first_name
            conditions:
              - {field: Email, normalize: [whitespace, lowercase]}
            exceptions:   # a shared family address: first names differ as written and with nicknames resolved
              - when: differ
                conditions: [{field: FirstName, normalize: [name, unicode_to_ascii, lowercase], precision: low},
                             {field: FirstName, normalize: [unicode_to_ascii, lowercase], precision: low}]
          - name: phone_and_first_name
            conditions:
              - {field: Phone, normalize: [phone]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
            exceptions:   # household members share a home phone (and sometimes a first name)
              - when: differ
                conditions: [{field: LastName, normalize: [unicode_to_ascii, lowercase, symbols], precision: low}]
          - name: name_and_birth_date   # in one city: nationwide, name + birth date coincide at scale
            conditions:
              - {field: BirthDate}
              - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
              - {field: City, normalize: [unicode_to_ascii, lowercase, whitespace]}
          - name: birth_date_and_postal_code
            conditions:
              - {field: BirthDate}
              - {field: PostalCode, normalize: [lowercase, whitespace, symbols]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: medium}
              - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace], precision: medium}
          - name: name_and_address
            conditions:
              - {field: PostalCode, normalize: [lowercase, whitespace, symbols]}
              - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
              - {field: Street, normalize: [address, lowercase, symbols], precision: high}
            exceptions:   # a parent and a child of the same name live at one address
              - when: differ
                conditions: [{field: BirthDate}]
    crm_contacts:
      deduplication: {winner: {policy: most_recent}, rules: *person_rules}
      rules: *person_rules
    ecom_accounts:
      deduplication: {winner: {policy: most_recent}, rules: *person_rules}
      rules: *person_rules
    pos_members:
      deduplication:
        winner: {policy: most_recent}
        rules:
          - name: email_and_first_name
            conditions: [{field: Email, normalize: [whitespace, lowercase]}]
            exceptions:   # a shared family address: first names differ as written and with nicknames resolved
              - when: differ
                conditions: [{field: FirstName, normalize: [name, unicode_to_ascii, lowercase], precision: low},
                             {field: FirstName, normalize: [unicode_to_ascii, lowercase], precision: low}]
          - name: phone_and_first_name
            conditions:
              - {field: Phone, normalize: [phone]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
            exceptions:   # household members share a home phone (and sometimes a first name)
              - when: differ
                conditions: [{field: LastName, normalize: [unicode_to_ascii, lowercase, symbols], precision: low}]
          - name: birth_date_and_postal_code
            conditions:
              - {field: BirthDate}
              - {field: PostalCode, normalize: [lowercase, whitespace, symbols]}
              - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: medium}
              - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace], precision: medium}
      rules:
        - name: email_and_first_name
          conditions: [{field: Email, normalize: [whitespace, lowercase]}]
          exceptions:
            - when: differ
              conditions: [{field: FirstName, normalize: [name, unicode_to_ascii, lowercase], precision: low},
                           {field: FirstName, normalize: [unicode_to_ascii, lowercase], precision: low}]
        - name: phone_and_first_name
          conditions:
            - {field: Phone, normalize: [phone]}
            - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
          exceptions:
            - when: differ
              conditions: [{field: LastName, normalize: [unicode_to_ascii, lowercase, symbols], precision: low}]
        - name: birth_date_and_postal_code
          conditions:
            - {field: BirthDate}
            - {field: PostalCode, normalize: [lowercase, whitespace, symbols]}
            - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: medium}
            - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace], precision: medium}
        - name: name_and_postal_code
          against: [erp_customers, crm_contacts, ecom_accounts]
          conditions:
            - {field: PostalCode, normalize: [lowercase, whitespace, symbols]}
            - {field: LastName, normalize: [unicode_to_ascii, lowercase, symbols, whitespace]}
            - {field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: high}
          exceptions:
            - when: differ
              conditions: [{field: BirthDate}]
            - when: differ   # same name in one postal code, but neither email nor phone agrees: leave it to scoring
              conditions: [{field: Email, normalize: [whitespace, lowercase]}, {field: Phone, normalize: [phone]}]
  default_phone_country: "1"       # a US retailer: national numbers are +1 numbers
  # Fellegi-Sunter scoring on top of the rules (rules stay must-links); m/u estimated without labels.
  probabilistic:
    enabled: true
    threshold: 0.9
    comparisons:
      - {field: FirstName, kind: first_name, term_frequency: true}
      - {field: LastName, kind: name, term_frequency: true}
      # a placeholder date is common, a real one rare; the placeholder itself is bypassed (below)
      - {field: BirthDate, kind: date, term_frequency: true, bypass: true}
      - {field: Email, kind: email}
      - {field: Phone, kind: phone}
      - {field: PostalCode, kind: postal_code}
      - {field: Street, kind: address}
      # no City comparison: a postal code determines its city, and Fellegi-Sunter assumes independent
      # comparisons, so a mover would be counted as different three times (postal code, street, city)
    blocking: [[Email], [Phone], [LastName, BirthDate], [FirstName, BirthDate], [PostalCode, LastName],
               [PostalCode, FirstName], [PostalCode, Street], [FirstName, LastName, City]]
    # m is learnt on keys that rarely join two people; pairs sharing a household's postal code, street,
    # phone or surname would teach EM that relatives are matches (see docs/decisions.md)
    training_blocking: [[Email], [LastName, BirthDate], [FirstName, BirthDate]]
    cannot_link:   # household members and twins share a surname, an address and a phone, not a person
      - when: differ   # both as written and with nicknames resolved, so a typo in a nickname still matches
        conditions: [{field: FirstName, normalize: [name, unicode_to_ascii, lowercase, symbols], precision: medium},
                     {field: FirstName, normalize: [unicode_to_ascii, lowercase, symbols], precision: medium}]
      - when: differ
        conditions: [{field: BirthDate}]
      - when: differ
        conditions: [{field: LastName, normalize: [unicode_to_ascii, lowercase, symbols], precision: low}]
  custom:
    # 2008-10-31: every customer younger than 18 carries it (the demo clips ages at 18, as a sign-up form's
    # default date would): 1.9 % of the records, whose blocks made a third of the candidate pairs at 1 M
    bypass: ["0000000000", "test@example.com", "noemail@example.com", "2008-10-31"]

merge:
  fields:
    FirstName: {policy: importance, order: [crm_contacts, ecom_accounts, erp_customers, pos_members]}
    LastName: {policy: importance, order: [crm_contacts, ecom_accounts, erp_customers, pos_members]}
    Email: {policy: most_recent}
    Phone: {policy: most_recent}
    BirthDate: {policy: importance, order: [erp_customers, crm_contacts, pos_members, ecom_accounts]}
  groups:
    - {name: address, fields: [Street, City, State, PostalCode, Country], policy: most_recent}
  households: true

enrichment:
  measures:
    - {name: OnlineSpend, aggregation: sum, field: Amount, where: {DataSourceName: Ecommerce}}
    - {name: StoreVisits90d, aggregation: count, activity_type: SalesOrder, where: {DataSourceName: POS},
       window_days: 90}
    - {name: LargestOrder, aggregation: max, field: Amount, activity_type: SalesOrder}
    - {name: FavouriteStoreChannel, aggregation: argmax, field: Amount, of: DataSourceName,
       activity_type: SalesOrder}
  lifetime_value: {horizon_months: 12, annual_discount_rate: 0.1, high_value: pareto}
  churn: {prediction_window_days: 90, churn_definition_days: 90, threshold: 0.5}
  brand_affinity: {field: Brand, prior_weight: 5}
  segments:
    - name: HighValueAtRisk
      rule: {all: [{field: IsHighValue, op: "=", value: true}, {field: ChurnScore, op: ">=", value: 0.5}]}
    - name: OnlineOnly
      rule: {all: [{field: OnlineSpend, op: ">", value: 0}, {field: StoreVisits90d, op: "=", value: 0}]}
    - name: LoyalOrChampions
      rule: {any: [{field: RfmSegment, op: in, value: [Champions, Loyal]}]}
    - name: LoyalNotAtRisk
      exclude: [LoyalOrChampions, HighValueAtRisk]
"""
